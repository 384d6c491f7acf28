"""Customers that may be one person: the possible duplicates the owner reviews, and the groups
stored twice that arrival matching would now take for one (merged by `manage.py merge_duplicates`).

Both compare the whole shop by blocking: customers are grouped by each key, so the cost grows
with the number of customers, not with its square (100,000 customers: about a second).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import models
from django.db.models import Count, Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.identity import components_by_shared_keys
from customers.merging import MergeError, MergeReason, customers_compared, customers_merge_many
from customers.models import Customer, CustomerIdentity, CustomerMerge, IdentityKind
from shops.models import Shop


class DuplicateReason(models.TextChoices):
    SAME_EMAIL = "same_email", gettext_lazy("Same email address")
    NAME_POSTCODE = "name_postcode", gettext_lazy("Same name and postcode")
    NAME_PHONE = "name_phone", gettext_lazy("Same name and phone")
    SIMILAR_EMAIL = "similar_email", gettext_lazy("Similar email address")


_REASON_ORDER = list(DuplicateReason.values)


@dataclass(frozen=True)
class DuplicatePair:
    """Two customers that may be one person; `first` is the older (the one kept by default)."""

    first: Customer
    second: Customer
    reasons: tuple[str, ...]

    @property
    def reason_labels(self) -> list[str]:
        return [str(DuplicateReason(r).label) for r in self.reasons]


def _name_key(first: str, last: str) -> str:
    return " ".join(f"{first} {last}".split()).casefold()


def _digits(value: str) -> str:
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    return digits if len(digits) >= 6 else ""


def _email_skeleton(key: str) -> str:
    """An address without what mail servers ignore: dots and +tags of the local part, and
    googlemail.com, which is gmail.com ("a.b+news@googlemail.com" -> "ab@gmail.com")."""
    local, _at, domain = key.rpartition("@")
    domain = "gmail.com" if domain == "googlemail.com" else domain
    return f"{local.split('+', 1)[0].replace('.', '')}@{domain}"


def _one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with one letter changed, added, removed, or two neighbours swapped
    (gmial.com / gmail.com)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


# A local part used by this many different domains is a role address (info@, sales@), not a typo.
_SIMILAR_DOMAINS_MAX = 50


def _duplicate_pair_reasons(*, shop: Shop) -> dict[tuple[int, int], set[str]]:
    """(older id, newer id) -> reasons, over the shop's customers that are not erased.

    Customers are grouped by each key (blocking), and in a group every customer is paired with
    its oldest, so the cost grows with the number of customers, not with its square.
    """
    rows = (
        Customer.objects.for_shop(shop)
        .filter(erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "first_name", "last_name", "email_key", "phone_key", "phone", "postcode")
    )
    blocks: dict[tuple, list[int]] = defaultdict(list)
    by_email: dict[str, int] = {}  # email key -> its oldest customer
    for pk, first, last, e_key, p_key, phone, postcode in rows.iterator(chunk_size=5000):
        name = _name_key(first, last)
        if name:
            code = "".join(postcode.split()).upper()
            if code:
                blocks[(DuplicateReason.NAME_POSTCODE, name, code)].append(pk)
            number = p_key or _digits(phone)
            if number:
                blocks[(DuplicateReason.NAME_PHONE, name, number)].append(pk)
        if e_key:
            blocks[(DuplicateReason.SAME_EMAIL, e_key)].append(pk)
            if e_key not in by_email:
                by_email[e_key] = pk
    # Similar emails compare one customer per address (the same address is SAME_EMAIL already).
    skeletons: dict[str, list[int]] = defaultdict(list)
    by_local: dict[str, dict[str, int]] = defaultdict(dict)
    for key, pk in by_email.items():
        skeletons[_email_skeleton(key)].append(pk)
        local, _at, domain = key.rpartition("@")
        by_local[local][domain] = pk

    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)

    def pair(a: int, b: int, reason: str) -> None:
        if a != b:
            pairs[(min(a, b), max(a, b))].add(reason)

    for (reason, *_key), ids in blocks.items():
        for pk in ids[1:]:
            pair(ids[0], pk, reason)
    for ids in skeletons.values():
        ids.sort()
        for pk in ids[1:]:
            pair(ids[0], pk, DuplicateReason.SIMILAR_EMAIL)
    for domains in by_local.values():
        if len(domains) < 2 or len(domains) > _SIMILAR_DOMAINS_MAX:
            continue
        names = sorted(domains)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if _one_edit_apart(a, b):
                    pair(domains[a], domains[b], DuplicateReason.SIMILAR_EMAIL)
    return pairs


def _pairs_sorted(pairs: dict[tuple[int, int], set[str]]) -> list[tuple[int, int, tuple[str, ...]]]:
    """The surest first: the same email, then the most reasons, then the oldest customers."""
    ordered = [(a, b, tuple(sorted(reasons, key=_REASON_ORDER.index))) for (a, b), reasons in pairs.items()]
    ordered.sort(key=lambda p: (DuplicateReason.SAME_EMAIL not in p[2], -len(p[2]), p[0], p[1]))
    return ordered


def _fingerprint(shop: Shop) -> str:
    """Changes whenever a customer is added, removed or changed (merges delete, erasure updates)."""
    state = Customer.objects.for_shop(shop).aggregate(n=Count("pk"), top=Max("pk"), changed=Max("updated_at"))
    changed = state["changed"].isoformat() if state["changed"] else ""
    return f"{state['n']}:{state['top']}:{changed}"


_CACHE_SECONDS = 3600
_CACHED_PAIRS = 500  # the most a page or the API lists


def _duplicate_pairs_cached(*, shop: Shop) -> tuple[int, list[tuple[int, int, tuple[str, ...]]]]:
    """(how many pairs, the surest _CACHED_PAIRS of them), computed once per state of the shop's
    customers: the data page shows the count on every visit."""
    key = f"customers:duplicates:{shop.pk}:{_fingerprint(shop)}"
    found = cache.get(key)
    if found is None:
        ordered = _pairs_sorted(_duplicate_pair_reasons(shop=shop))
        found = (len(ordered), ordered[:_CACHED_PAIRS])
        cache.set(key, found, _CACHE_SECONDS)
    return found


def duplicate_pair_count(*, shop: Shop) -> int:
    return _duplicate_pairs_cached(shop=shop)[0]


def duplicate_candidates(*, shop: Shop, limit: int = 200) -> list[DuplicatePair]:
    """Pairs of the shop's customers that may be one person, the surest first (at most `limit`,
    up to 500).

    Reasons: the same email key; the same name (case and spaces ignored) and postcode (spaces
    ignored); the same name and phone (its E.164 key, else its digits); a similar email (the
    same address once dots, +tags and googlemail.com are ignored, or the same local part at a
    domain one typo away). Erased customers are left out. Each customer comes with
    `order_count` and its `identities` (source names, not the digests of erasure).
    """
    ordered = _duplicate_pairs_cached(shop=shop)[1][:limit]
    customers = customers_compared(shop=shop, ids={pk for a, b, _r in ordered for pk in (a, b)})
    return [
        DuplicatePair(first=customers[a], second=customers[b], reasons=reasons)
        for a, b, reasons in ordered
        if a in customers and b in customers
    ]


# --------------------------------------------------------------------------- stored twice


@dataclass
class DuplicateGroup:
    """Customers that arrival matching would now take for one person; `survivor` is the oldest."""

    survivor: int
    others: list[int]
    keys: list[str]


def duplicate_groups(*, shop: Shop, include_phone: bool = False) -> list[DuplicateGroup]:
    """The stored customers that share an email key (also a former email kept as an alias) and,
    when the shop matches by phone or `include_phone`, a phone key: the same rule as matching
    on arrival (customers/identity.py). Erased customers have no keys left and are never in one."""
    use_phone = include_phone or shop.match_by_phone
    rows = list(
        Customer.objects.for_shop(shop)
        .filter(erased_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "email_key", "phone_key")
    )
    aliases: dict[int, list[tuple]] = defaultdict(list)
    alias_sources = [IdentityKind.EMAIL] + ([IdentityKind.PHONE] if use_phone else [])
    for customer_id, source, key in (
        CustomerIdentity.objects.for_shop(shop)
        .filter(source__in=alias_sources)
        .values_list("customer_id", "source", "external_id")
    ):
        aliases[customer_id].append(("e" if source == IdentityKind.EMAIL else "p", key))
    keys_per_customer = [
        [("e", e)] * bool(e) + [("p", p)] * bool(p and use_phone) + aliases.get(pk, []) for pk, e, p in rows
    ]
    members: dict[int, list[int]] = defaultdict(list)  # component -> indexes into rows
    for index, component in enumerate(components_by_shared_keys(keys_per_customer)):
        members[component].append(index)
    groups = []
    for indexes in members.values():
        if len(indexes) < 2:
            continue
        ids = [rows[i][0] for i in indexes]
        keys = sorted({key for i in indexes for _kind, key in keys_per_customer[i]})
        groups.append(DuplicateGroup(survivor=ids[0], others=ids[1:], keys=keys))
    return groups


def duplicate_groups_merge(
    *, shop: Shop, groups: Iterable[DuplicateGroup], user=None, reason: str = MergeReason.COMMAND
) -> list[tuple[DuplicateGroup, list[CustomerMerge], str]]:
    """Merge each group into its oldest customer, one transaction per group; returns
    (group, its merges, the refusal or "")."""
    results = []
    for group in groups:
        survivor = Customer.objects.for_shop(shop).filter(pk=group.survivor).first()
        others = list(Customer.objects.for_shop(shop).filter(pk__in=group.others).order_by("pk"))
        if survivor is None:
            results.append((group, [], _("The customer to keep no longer exists.")))
            continue
        try:
            merges = customers_merge_many(shop=shop, survivor=survivor, others=others, user=user, reason=reason)
        except MergeError as exc:
            results.append((group, [], exc.message))
        else:
            results.append((group, merges, ""))
    return results
