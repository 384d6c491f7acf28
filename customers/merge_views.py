"""Shop pages for merging customers: the possible duplicates, the merge confirm step, undo."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from customers import duplicates, merging
from customers.models import Customer
from shops.decorators import shop_required
from shops.models import Role

NEXT_DUPLICATES = "duplicates"


def _customer_or_404(request: HttpRequest, customer_id: int) -> Customer:
    customer = Customer.objects.for_shop(request.shop).filter(pk=customer_id).first()
    if customer is None:
        raise Http404
    return customer


class MergeConfirmForm(forms.Form):
    """Which of two customers of the shop is kept; the other is merged into it."""

    other_id = forms.IntegerField(widget=forms.HiddenInput)
    keep = forms.TypedChoiceField(
        label=gettext_lazy("Keep"),
        coerce=int,
        widget=forms.RadioSelect,
        choices=(),  # set in __init__
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, shop, customer: Customer, other: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop, self.customer = shop, customer
        if other is None and self.is_bound:
            other = self._other_from(self.data.get("other_id"))
        self.other = other
        people = [customer] + ([other] if other else [])
        self.fields["keep"].choices = [(c.pk, f"#{c.pk} {c}") for c in people]

    def _other_from(self, value) -> Customer | None:
        try:
            pk = int(value)
        except (TypeError, ValueError):
            return None
        return Customer.objects.for_shop(self.shop).filter(pk=pk).exclude(pk=self.customer.pk).first()

    def clean(self):
        cleaned = super().clean()
        if self.other is None:
            raise forms.ValidationError(_("Choose a customer of this shop to merge with."))
        return cleaned

    def survivor_and_other(self) -> tuple[Customer, Customer]:
        if self.cleaned_data["keep"] == self.other.pk:
            return self.other, self.customer
        return self.customer, self.other


@shop_required(role=Role.STAFF)
def customer_merge(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Merge another customer with this one: find them (email or number), confirm which one is
    kept (this one unless chosen otherwise), merge, and go to the kept customer."""
    customer = _customer_or_404(request, customer_id)
    query = request.GET.get("other", "").strip()
    next_page = request.POST.get("next") or request.GET.get("next", "")
    status = 200
    if request.method == "POST":
        form = MergeConfirmForm(request.POST, shop=request.shop, customer=customer)
        if form.is_valid():
            survivor, other = form.survivor_and_other()
            reason = merging.MergeReason.DUPLICATES if next_page == NEXT_DUPLICATES else merging.MergeReason.MANUAL
            try:
                merge = merging.customer_merge(
                    shop=request.shop, survivor=survivor, other=other, user=request.user, reason=reason
                )
            except merging.MergeError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Customer #%(other)s was merged into #%(kept)s. You can undo this until %(until)s.")
                    % {
                        "other": merge.merged_customer_id,
                        "kept": survivor.pk,
                        "until": _date(merging.merge_undo_until(merge), request.shop),
                    },
                )
                if next_page == NEXT_DUPLICATES:
                    return redirect("data_duplicates")
                return redirect("customer_detail", customer_id=survivor.pk)
        status = 400
        other = form.other
    else:
        other = merging.customer_find(shop=request.shop, query=query, exclude=customer) if query else None
        form = (
            MergeConfirmForm(
                initial={"other_id": other.pk, "keep": customer.pk, "next": next_page},
                shop=request.shop,
                customer=customer,
                other=other,
            )
            if other
            else None
        )
    context = {
        "customer": customer,
        "other": other,
        "form": form,
        "query": query,
        "not_found": bool(query) and other is None,
        "people": _side_by_side(request.shop, customer, other),
        "next": next_page,
        "undo_days": merging.MERGE_UNDO_DAYS,
    }
    return render(request, "customers/merge.html", context, status=status)


def _side_by_side(shop, customer: Customer, other: Customer | None) -> list[Customer]:
    people = [customer] + ([other] if other else [])
    found = merging.customers_compared(shop=shop, ids=[c.pk for c in people])
    return [found[c.pk] for c in people if c.pk in found]


def _date(value, shop) -> str:
    return date_format(localtime(value, shop.tzinfo), "SHORT_DATE_FORMAT")


@shop_required(role=Role.STAFF)
@require_POST
def customer_merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = merging.customer_merge_get(shop=request.shop, merge_id=merge_id)
    if merge is None:
        raise Http404
    try:
        restored = merging.customer_merge_undo(shop=request.shop, merge=merge, user=request.user)
    except merging.MergeError as exc:
        messages.error(request, exc.message)
        if merge.survivor_id:
            return redirect("customer_detail", customer_id=merge.survivor_id)
        return redirect("data_duplicates")
    messages.success(
        request, _("The merge was undone: customer #%(id)s is back with their own data.") % {"id": restored.pk}
    )
    return redirect("customer_detail", customer_id=merge.survivor_id)


@shop_required
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Pairs of customers that may be one person, with why; staff and owners can merge them."""
    pairs = duplicates.duplicate_candidates(shop=request.shop)
    context = {
        "pairs": pairs,
        "total": duplicates.duplicate_pair_count(shop=request.shop),
        "can_merge": request.membership.has_role(Role.STAFF),
    }
    return render(request, "customers/duplicates.html", context)
