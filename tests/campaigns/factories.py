"""Test data for campaigns: a current analysis run, segments with members, campaigns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import factory
from django.utils import timezone

from analytics.models import AnalysisRun, CustomerScore, Segment, SegmentMembership
from campaigns.models import Campaign, CampaignStatus
from customers.models import Customer
from shops.models import Shop
from tests.factories import CustomerFactory, ShopFactory, ShopOwnedFactory

SUBJECT = "{{ first_name|default:'Hello' }}, {{ offer }} at {{ shop_name }}"
BODY = (
    "Hi {{ first_name|default:'there' }},\n\n"
    "Your favourite: {{ favourite_category|default:'our coffee' }}.\n"
    "{% for p in recommended_products %}- {{ p }}\n{% endfor %}\n"
    "{% if discount_code %}Use {{ discount_code }} at https://alpha.example/shop?src=mail.{% endif %}"
)


def current_run(shop: Shop) -> AnalysisRun:
    run = AnalysisRun.unscoped.filter(shop=shop, is_current=True).first()
    return run or AnalysisRun.unscoped.create(shop=shop, status="done", is_current=True, trigger="test")


def segment_with_members(
    shop: Shop, customers: Sequence[Customer], *, key: str = "rfm:champions", name: str = "Champions", kind: str = "rfm"
) -> Segment:
    run = current_run(shop)
    segment = Segment.unscoped.create(shop=shop, run=run, kind=kind, key=key, name=name, size=len(customers))
    SegmentMembership.unscoped.bulk_create(
        [SegmentMembership(shop=shop, run=run, segment=segment, customer=c) for c in customers], batch_size=2000
    )
    return segment


def consenting_customers(shop: Shop, count: int, *, prefix: str = "c") -> list[Customer]:
    """Many customers at once (bulk insert), all with consent and an address of their own."""
    now = timezone.now()
    Customer.unscoped.bulk_create(
        [
            Customer(
                shop=shop,
                external_id=f"{prefix}{n}",
                source="api",
                email=f"{prefix}{n}@example.org",
                first_name=f"Name{n}",
                email_consent=True,
                email_consent_at=now,
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    return list(Customer.unscoped.filter(shop=shop, external_id__startswith=prefix).order_by("pk"))


def score(shop: Shop, customer: Customer, *, category: str = "", recommendations: list | None = None) -> CustomerScore:
    return CustomerScore.unscoped.create(
        shop=shop,
        run=current_run(shop),
        customer=customer,
        top_category=category,
        recommendations=recommendations or [],
    )


class SegmentFactory(ShopOwnedFactory):
    class Meta:
        model = Segment

    shop = factory.SubFactory(ShopFactory)
    run = factory.LazyAttribute(lambda o: current_run(o.shop))
    kind = "rfm"
    key = factory.Sequence(lambda n: f"rfm:group{n}")
    name = factory.Sequence(lambda n: f"Group {n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        people = extracted if extracted is not None else [CustomerFactory(shop=self.shop, email_consent=True)]
        SegmentMembership.unscoped.bulk_create(
            [SegmentMembership(shop=self.shop, run=self.run, segment=self, customer=c) for c in people]
        )
        Segment.unscoped.filter(pk=self.pk).update(size=len(people))


class CampaignFactory(ShopOwnedFactory):
    class Meta:
        model = Campaign

    shop = factory.SubFactory(ShopFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    segment = factory.LazyAttribute(lambda o: SegmentFactory(shop=o.shop))
    segment_key = factory.LazyAttribute(lambda o: o.segment.key if o.segment else "")
    segment_name = factory.LazyAttribute(lambda o: o.segment.name if o.segment else "")
    subject_template = SUBJECT
    body_template = BODY
    offer_type = "percent_off"
    offer_value = Decimal("15")
    code_mode = "unique"
    discount_code = "SPRING"
    holdout_share = Decimal("0.100")
    status = CampaignStatus.DRAFT


def due_campaign(shop: Shop, segment: Segment, **kwargs) -> Campaign:
    """A campaign scheduled a minute ago, ready for the due-scan."""
    kwargs.setdefault("scheduled_at", timezone.now() - dt.timedelta(minutes=1))
    return CampaignFactory(shop=shop, segment=segment, status=CampaignStatus.SCHEDULED, **kwargs)
