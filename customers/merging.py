"""Merging two customers into one and undoing it (possible duplicates: customers/duplicates.py).

A merge folds `other` into `survivor` (ADR 0009): every row of any app that points at `other`
by a foreign key moves to `survivor`, found through Django's relation metadata so that
customers imports nothing of analytics or campaigns. A row that cannot move because the
survivor already has the same one (a unique constraint: the same campaign, segment or run) is
set aside: serialised into the merge record with the rows its deletion would cascade to, then
deleted. `other`'s former email and phone stay with the survivor as alias identities, so any
source that sends them again finds the survivor. The record (CustomerMerge) keeps what the undo
needs for MERGE_UNDO_DAYS; after that, or when the survivor is erased, its personal data is
cleared and the merge is final.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.core import serializers
from django.db import DEFAULT_DB_ALIAS, IntegrityError, models, transaction
from django.db.models import Count, Prefetch
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers import services
from customers.identity import customer_fields_merge
from customers.keys import email_key
from customers.models import Customer, CustomerIdentity, CustomerMerge, IdentityKind
from customers.signals import customer_merge_undone, customer_merged
from shops.audit import audit_record
from shops.models import AuditAction, Shop

MERGE_UNDO_DAYS = 30
IN_CHUNK = 900  # ids per IN (...): under SQLite's 999 query parameters

# The survivor's fields a merge may change. Each keeps the value with the newer stamp in
# field_updated_at; tags and interests are unioned; consent follows the consent rule.
PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "occupation",
    "city",
    "country",
    "postcode",
    "age_range",
)
UNION_FIELDS = ("tags", "interests")
# merge.moved keys of the alias identities a merge created (removed again by its undo)
ALIASES_CREATED = "customers.CustomerIdentity.created"


class MergeReason(models.TextChoices):
    MANUAL = "manual", gettext_lazy("Merged on the customer's page")
    DUPLICATES = "duplicates", gettext_lazy("Merged from the possible duplicates")
    API = "api", gettext_lazy("Merged through the API")
    COMMAND = "command", gettext_lazy("Merged by the duplicates command")


class MergeError(Exception):
    """A merge or undo that must not happen; `message` is for the person who asked."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------- JSON forms


def _json_safe(value: Any) -> Any:
    """Serialised rows as plain JSON, keeping datetimes to the microsecond (Django's JSON
    encoder would cut them to milliseconds, and an undo must give back the exact values)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def _rows_serialise(objs: Iterable[models.Model]) -> list[dict]:
    return _json_safe(serializers.serialize("python", objs))


def _field_json(obj: models.Model, name: str) -> Any:
    return _json_safe(obj._meta.get_field(name).value_from_object(obj))


def _stamp(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


# --------------------------------------------------------------------------- relations


def _customer_relations() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every foreign key of any installed app that points at Customer (hidden ones too, such
    as the campaign recipients' related_name="+"). Earlier merges into the merged customer
    (CustomerMerge.survivor) move as well, so their undo still finds the person they went to."""
    return [
        (rel.related_model, rel.field)
        for rel in Customer._meta.get_fields(include_hidden=True)
        if rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)
    ]


def _relation_key(model: type[models.Model], field: models.Field) -> str:
    return f"{model._meta.label}.{field.name}"


def _chunks(values: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _unique_sets(model: type[models.Model], field: models.Field) -> list[tuple[list[str], Any, bool]]:
    """The unique constraints of `model` that include `field`: (the other fields, condition, nulls distinct)."""
    found: list[tuple[list[str], Any, bool]] = []
    if field.unique:
        found.append(([], None, True))
    for names in model._meta.unique_together:
        if field.name in names:
            found.append(([n for n in names if n != field.name], None, True))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and field.name in constraint.fields:
            found.append(
                (
                    [n for n in constraint.fields if n != field.name],
                    constraint.condition,
                    constraint.nulls_distinct is not False,
                )
            )
    return found


def _conflicting_ids(model: type[models.Model], field: models.Field, survivor_id: int, other_id: int) -> set[int]:
    """Rows of `other` that would break a unique constraint if they pointed at `survivor`."""
    manager = model._base_manager
    conflicts: set[int] = set()
    for rest, condition, nulls_distinct in _unique_sets(model, field):
        mine = manager.filter(**{field.attname: survivor_id})
        theirs = manager.filter(**{field.attname: other_id})
        if condition is not None:
            mine, theirs = mine.filter(condition), theirs.filter(condition)
        if not rest:
            if mine.exists():
                conflicts.update(theirs.values_list("pk", flat=True))
            continue
        taken = set(mine.values_list(*rest))
        for pk, *values in theirs.values_list("pk", *rest):
            if nulls_distinct and any(v is None for v in values):
                continue
            if tuple(values) in taken:
                conflicts.add(pk)
    return conflicts


class _SetAsideCollector(Collector):
    """Collects every row a deletion reaches, loading each (no fast deletes), so all of them can
    be serialised before they go."""

    def can_fast_delete(self, *args, **kwargs) -> bool:
        return False


def _set_aside(model: type[models.Model], field: models.Field, ids: list[int]) -> dict:
    """Serialise the rows `ids` of `model` with everything their deletion cascades to (parents
    first), and the references it would null (to put back); then delete them."""
    collector = _SetAsideCollector(using=DEFAULT_DB_ALIAS)
    try:
        collector.collect(list(model._base_manager.filter(pk__in=ids)))
    except (models.ProtectedError, models.RestrictedError) as exc:
        raise MergeError(
            _("These customers cannot be merged: %(what)s of the merged customer is protected.")
            % {"what": model._meta.verbose_name}
        ) from exc
    collector.sort()  # children first, the order deletion needs; restoring reads it backwards
    rows: list[dict] = []
    for related_model in reversed(list(collector.data)):
        rows.extend(_rows_serialise(sorted(collector.data[related_model], key=lambda o: o.pk)))
    nulled = []
    for (null_field, _value), batches in collector.field_updates.items():
        pairs: list[tuple[int, Any]] = []
        for batch in batches:
            if isinstance(batch, models.QuerySet):
                pairs.extend(batch.values_list("pk", null_field.attname))
            else:
                pairs.extend((obj.pk, getattr(obj, null_field.attname)) for obj in batch)
        if pairs:
            nulled.append(
                {"model": null_field.model._meta.label, "field": null_field.attname, "rows": _json_safe(pairs)}
            )
    collector.delete()
    return {"relation": _relation_key(model, field), "rows": rows, "nulled": nulled}


def _targets_exist(obj: models.Model) -> bool:
    """True when every row `obj` points at still exists (an old analysis run may have been deleted)."""
    for field in obj._meta.concrete_fields:
        if field.is_relation and (field.many_to_one or field.one_to_one):
            value = getattr(obj, field.attname)
            if value is not None and not field.related_model._base_manager.filter(pk=value).exists():
                return False
    return True


def _set_aside_restore(groups: list[dict]) -> int:
    """Put set-aside rows back (those whose parents still exist); returns how many."""
    restored = 0
    for group in groups:
        for item in serializers.deserialize("python", group["rows"]):
            obj = item.object
            if type(obj)._base_manager.filter(pk=obj.pk).exists() or not _targets_exist(obj):
                continue
            item.save()
            restored += 1
        for nulled in group["nulled"]:
            model = _model_for(nulled["model"])
            field = next(f for f in model._meta.concrete_fields if f.attname == nulled["field"])
            for pk, value in nulled["rows"]:
                if field.related_model._base_manager.filter(pk=value).exists():
                    model._base_manager.filter(pk=pk, **{f"{field.attname}__isnull": True}).update(
                        **{field.attname: value}
                    )
    return restored


def _model_for(label: str) -> type[models.Model]:
    from django.apps import apps

    return apps.get_model(label)


# --------------------------------------------------------------------------- field merge


def _consent_time(customer: Customer) -> dt.datetime | None:
    """When the customer's consent state was true: a consent's own time, or a withdrawal's stamp
    (None for a customer who never said either)."""
    stamp = _stamp(customer.field_updated_at.get("email_consent"))
    if customer.email_consent:
        return customer.email_consent_at or stamp
    return stamp


def _profile_merge(survivor: Customer, other: Customer, *, now: dt.datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """The survivor's field changes and stamps after folding `other` in.

    Per field, the value with the newer stamp wins; a value without a stamp loses to one with
    a stamp; when neither has one, the survivor keeps its own unless it is empty. An empty
    value never replaces a stored one. Consent: the rule of customer_fields_merge, so a
    withdrawal beats an older consent and a consent beats a withdrawal only when it is later.
    """
    stamps = dict(survivor.field_updated_at or {})
    theirs = other.field_updated_at or {}
    changes: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        mine_value, their_value = getattr(survivor, name), getattr(other, name)
        mine_at, their_at = _stamp(stamps.get(name)), _stamp(theirs.get(name))
        if _empty(their_value):
            continue
        if _empty(mine_value) or (their_at is not None and (mine_at is None or their_at > mine_at)):
            if mine_value != their_value:
                changes[name] = their_value
            if their_at is not None:
                stamps[name] = their_at.isoformat()
        elif mine_value == their_value and their_at is not None and (mine_at is None or their_at > mine_at):
            stamps[name] = their_at.isoformat()
    for name in UNION_FIELDS:
        mine_list = list(getattr(survivor, name) or [])
        union = mine_list + [v for v in (getattr(other, name) or []) if v not in mine_list]
        if union != mine_list:
            changes[name] = union
            newest = max(filter(None, [_stamp(stamps.get(name)), _stamp(theirs.get(name))]), default=None)
            if newest is not None:
                stamps[name] = newest.isoformat()
    their_time = _consent_time(other)
    if other.email_consent or their_time is not None:  # a customer never asked says nothing
        my_time = _consent_time(survivor)
        consent_changes, consent_stamps, _stale = customer_fields_merge(
            stored={"email_consent": survivor.email_consent, "email_consent_at": survivor.email_consent_at},
            stamps={"email_consent": my_time.isoformat()} if my_time else {},
            incoming={"email_consent": other.email_consent, "email_consent_at": other.email_consent_at},
            at=their_time,
            now=now,
        )
        changes.update(consent_changes)
        if "email_consent" in consent_stamps:
            stamps["email_consent"] = consent_stamps["email_consent"]
    return changes, stamps


# --------------------------------------------------------------------------- merge


def _locked_pair(shop: Shop, ids: list[int]) -> dict[int, Customer]:
    rows = Customer.unscoped.select_for_update().filter(shop=shop, pk__in=ids).order_by("pk")
    return {c.pk: c for c in rows}


def customer_merge(
    *, shop: Shop, survivor: Customer, other: Customer, user=None, reason: str = MergeReason.MANUAL
) -> CustomerMerge:
    """Fold `other` into `survivor`, in one transaction; returns the merge record.

    Moves every row that points at `other`, sets aside the ones the survivor already has,
    merges the profile fields, keeps `other`'s email and phone as aliases of the survivor,
    records all of it for the undo, then deletes `other`. The next analysis counts one person.

    Refuses (MergeError) a customer merged with itself, an erased customer, and a customer
    of another shop.
    """
    if survivor.pk == other.pk:
        raise MergeError(_("A customer cannot be merged with itself."), field="other_id")
    now = timezone.now()
    with transaction.atomic():
        # The same lock as the upserts: no source can write to `other` while it goes away.
        services.shop_table_lock(shop, "customers")
        locked = _locked_pair(shop, [survivor.pk, other.pk])
        if survivor.pk not in locked or other.pk not in locked:
            raise MergeError(_("Both customers must belong to this shop."), field="other_id")
        survivor, other = locked[survivor.pk], locked[other.pk]
        if survivor.erased_at or other.erased_at:
            raise MergeError(_("An erased customer cannot be merged."), field="other_id")

        moved: dict[str, list[int]] = {}
        set_aside: list[dict] = []
        for model, field in _customer_relations():
            conflicts = _conflicting_ids(model, field, survivor.pk, other.pk)
            if conflicts:
                set_aside.append(_set_aside(model, field, sorted(conflicts)))
            ids = list(
                model._base_manager.filter(**{field.attname: other.pk}).order_by("pk").values_list("pk", flat=True)
            )
            for chunk in _chunks(ids):
                model._base_manager.filter(pk__in=chunk).update(**{field.attname: survivor.pk})
            if ids:
                moved[_relation_key(model, field)] = ids

        snapshot = _rows_serialise([other])[0]
        former = {
            "email": {survivor.email_key, other.email_key},
            "phone": {survivor.phone_key, other.phone_key},
        }
        former_emails = [e for e in dict.fromkeys([survivor.email, other.email]) if e]
        changes, stamps = _profile_merge(survivor, other, now=now)
        survivor_before = {
            "fields": {name: _field_json(survivor, name) for name in changes},
            "field_updated_at": dict(survivor.field_updated_at or {}),
        }
        other_pk = other.pk
        Customer.unscoped.filter(pk=other_pk).delete()  # nothing points at it any more

        for name, value in changes.items():
            setattr(survivor, name, value)
        survivor.field_updated_at = stamps
        survivor.save(update_fields=[*changes, "field_updated_at", "updated_at"])
        survivor_before["written"] = {name: _field_json(survivor, name) for name in changes}

        aliases = _aliases_add(
            shop,
            survivor,
            emails=former["email"] - {survivor.email_key, ""},
            phones=former["phone"] - {survivor.phone_key, ""},
        )
        if aliases:
            moved[ALIASES_CREATED] = aliases

        merge = CustomerMerge.unscoped.create(
            shop=shop,
            survivor=survivor,
            merged_customer_id=other_pk,
            reason=reason,
            snapshot=snapshot,
            survivor_before=survivor_before,
            moved=moved,
            set_aside=set_aside,
            created_by=user if getattr(user, "pk", None) else None,
        )
        emails_gone = [e for e in former_emails if email_key(e) != survivor.email_key]
        for _receiver, response in customer_merged.send(
            sender=CustomerMerge, shop=shop, survivor=survivor, merge=merge, former_emails=emails_gone
        ):
            for key, ids in (response or {}).items():
                merge.moved.setdefault(key, []).extend(ids)
        merge.save(update_fields=["moved"])
        audit_record(
            shop=shop,
            action=AuditAction.MERGE,
            actor=user,
            target=("customer", survivor.pk),
            details={"merge": merge.pk, "merged_customer": other_pk, "reason": reason},
        )
        services.data_changed_on_commit(shop_id=shop.pk, reason="merge")
    return merge


def _aliases_add(shop: Shop, survivor: Customer, *, emails: set[str], phones: set[str]) -> list[int]:
    """Alias identities of the survivor for the former keys no identity holds yet; their ids."""
    wanted = [(IdentityKind.EMAIL, key) for key in sorted(emails)]
    wanted += [(IdentityKind.PHONE, key) for key in sorted(phones)]
    created = []
    for source, key in wanted:
        identity, made = CustomerIdentity.unscoped.get_or_create(
            shop=shop, source=source, external_id=key, defaults={"customer": survivor}
        )
        if made:
            created.append(identity.pk)
    return created


def customers_merge_many(
    *, shop: Shop, survivor: Customer, others: Iterable[Customer], user=None, reason: str = MergeReason.MANUAL
) -> list[CustomerMerge]:
    """Fold several customers into one, all or nothing (MergeError names the first refused)."""
    with transaction.atomic():
        return [customer_merge(shop=shop, survivor=survivor, other=o, user=user, reason=reason) for o in others]


# --------------------------------------------------------------------------- undo


def merge_undo_until(merge: CustomerMerge) -> dt.datetime:
    return merge.created_at + dt.timedelta(days=MERGE_UNDO_DAYS)


def merge_undo_refusal(merge: CustomerMerge, *, now: dt.datetime | None = None) -> str | None:
    """Why this merge cannot be undone now, or None when it can."""
    now = now or timezone.now()
    if merge.undone_at is not None:
        return _("This merge was already undone.")
    if now >= merge_undo_until(merge):
        return _("This merge is more than %(days)s days old and can no longer be undone.") % {"days": MERGE_UNDO_DAYS}
    if not merge.snapshot:
        return _("The data needed to undo this merge was erased.")
    if merge.survivor_id is None:
        return _("The kept customer no longer exists.")
    return None


def customer_merge_undo(*, shop: Shop, merge: CustomerMerge, user=None) -> Customer:
    """Undo a merge within MERGE_UNDO_DAYS; returns the merged customer, back with its own id.

    Re-points the rows that moved and still point at the survivor, restores the rows set
    aside, removes the aliases the merge added and gives the survivor back each field the
    merge changed, unless it changed again since. Refuses (MergeError) an undone or expired
    merge, or one whose survivor was erased.
    """
    now = timezone.now()
    with transaction.atomic():
        services.shop_table_lock(shop, "customers")
        merge = CustomerMerge.unscoped.select_for_update().filter(shop=shop, pk=merge.pk).first()
        if merge is None:
            raise MergeError(_("No such merge in this shop."))
        refusal = merge_undo_refusal(merge, now=now)
        if refusal:
            raise MergeError(refusal)
        survivor = Customer.unscoped.select_for_update().filter(shop=shop, pk=merge.survivor_id).first()
        if survivor is None:
            raise MergeError(_("The kept customer no longer exists."))
        if survivor.erased_at is not None:
            raise MergeError(_("The kept customer was erased; the merge can no longer be undone."))
        if Customer.unscoped.filter(pk=merge.merged_customer_id).exists():
            raise MergeError(_("The merged customer already exists again."))

        try:
            with transaction.atomic():
                for item in serializers.deserialize("python", [merge.snapshot]):
                    item.save()  # raw: the exact stored values, keys and timestamps
        except IntegrityError as exc:  # another row took its source id since
            raise MergeError(_("The merged customer cannot be restored: another customer has its source id.")) from exc
        restored = Customer.unscoped.get(pk=merge.merged_customer_id)

        relations = {_relation_key(model, field): (model, field) for model, field in _customer_relations()}
        for key, ids in merge.moved.items():
            if key not in relations:
                continue  # rows a merge created (aliases, receivers' rows) are removed below
            model, field = relations[key]
            for chunk in _chunks(ids):
                model._base_manager.filter(pk__in=chunk, **{field.attname: survivor.pk}).update(
                    **{field.attname: restored.pk}
                )
        _set_aside_restore(merge.set_aside)
        CustomerIdentity.unscoped.filter(pk__in=merge.moved.get(ALIASES_CREATED, []), customer=survivor).delete()
        customer_merge_undone.send(sender=CustomerMerge, shop=shop, survivor=survivor, restored=restored, merge=merge)
        _survivor_fields_restore(survivor, merge.survivor_before)

        # The restored customer holds its data again; the record keeps no copy of it.
        CustomerMerge.unscoped.filter(pk=merge.pk).update(undone_at=now, snapshot={}, set_aside=[], survivor_before={})
        audit_record(
            shop=shop,
            action=AuditAction.MERGE_UNDONE,
            actor=user,
            target=("customer", restored.pk),
            details={"merge": merge.pk, "survivor": survivor.pk},
        )
        services.data_changed_on_commit(shop_id=shop.pk, reason="merge_undo")
    return restored


def _survivor_fields_restore(survivor: Customer, before: dict) -> None:
    """Give back the values the merge replaced, where the survivor still has what the merge wrote."""
    fields, written = before.get("fields", {}), before.get("written", {})
    old_stamps = before.get("field_updated_at", {})
    stamps = dict(survivor.field_updated_at or {})
    restored = []
    for name, value in fields.items():
        if _field_json(survivor, name) != written.get(name):
            continue  # changed again since the merge: the newer value stays
        field = Customer._meta.get_field(name)
        setattr(survivor, name, field.to_python(value))
        restored.append(name)
        stamp_name = "email_consent" if name == "email_consent_at" else name
        if stamp_name in old_stamps:
            stamps[stamp_name] = old_stamps[stamp_name]
        else:
            stamps.pop(stamp_name, None)
    if restored:
        survivor.field_updated_at = stamps
        survivor.save(update_fields=[*restored, "field_updated_at", "updated_at"])


# --------------------------------------------------------------------------- record keeping


def customer_merges_expire(*, now: dt.datetime | None = None) -> int:
    """Clear the personal data of every shop's merges past the undo window; returns how many.
    Those merges are final: their ids and moves stay as the audit record."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=MERGE_UNDO_DAYS)
    return (
        CustomerMerge.unscoped.filter(created_at__lt=cutoff)
        .exclude(snapshot={})
        .update(snapshot={}, set_aside=[], survivor_before={})
    )


def customer_merge_records_erase(*, shop: Shop, customer_ids: Iterable[int]) -> int:
    """Clear what the merge records of these (erased) customers hold about them: the merged
    person's fields, the set-aside rows and the survivor's former values. Those merges can no
    longer be undone. Returns how many records were cleared."""
    return (
        CustomerMerge.objects.for_shop(shop)
        .filter(survivor_id__in=list(customer_ids))
        .update(snapshot={}, set_aside=[], survivor_before={})
    )


# --------------------------------------------------------------------------- reads


def merge_label(merge: CustomerMerge) -> str:
    """The merged customer's name and email while the record keeps them ("" once cleared)."""
    fields = (merge.snapshot or {}).get("fields", {})
    name = f"{fields.get('first_name', '')} {fields.get('last_name', '')}".strip()
    return " · ".join(p for p in (name, fields.get("email", "")) if p)


def customer_merges_for(*, shop: Shop, customer: Customer) -> list[CustomerMerge]:
    """The merges into this customer, newest first, each with `label`, `undo_until` and
    `undo_refusal` (None while it can be undone)."""
    now = timezone.now()
    merges = list(
        CustomerMerge.objects.for_shop(shop).filter(survivor=customer).select_related("created_by").order_by("-pk")
    )
    for merge in merges:
        merge.label = merge_label(merge)
        merge.undo_until = merge_undo_until(merge)
        merge.undo_refusal = merge_undo_refusal(merge, now=now)
    return merges


def customer_merge_get(*, shop: Shop, merge_id: int) -> CustomerMerge | None:
    return CustomerMerge.objects.for_shop(shop).filter(pk=merge_id).first()


def customer_find(*, shop: Shop, query: str, exclude: Customer | None = None) -> Customer | None:
    """The customer a person means by `query`: a customer number (#123 or 123) or an email
    (also a former email kept by a merge). The oldest when several share the email."""
    text = (query or "").strip().lstrip("#")
    customers = Customer.objects.for_shop(shop).filter(erased_at__isnull=True)
    if exclude is not None:
        customers = customers.exclude(pk=exclude.pk)
    if text.isdigit():
        return customers.filter(pk=int(text)).first()
    key = email_key(text)
    if not key:
        return None
    found = customers.filter(email_key=key).order_by("pk").first()
    if found is None:
        alias = CustomerIdentity.objects.for_shop(shop).filter(source=IdentityKind.EMAIL, external_id=key).first()
        found = customers.filter(pk=alias.customer_id).first() if alias else None
    return found


def customers_compared(*, shop: Shop, ids: Iterable[int]) -> dict[int, Customer]:
    """id -> customer, with what tells two records apart: `order_count` and its `identities`
    (the source names, not the digests erasure leaves)."""
    identities = CustomerIdentity.objects.for_shop(shop).exclude(
        source__in=[IdentityKind.ERASED_EMAIL, IdentityKind.ERASED_PHONE]
    )
    return {
        c.pk: c
        for c in Customer.objects.for_shop(shop)
        .filter(pk__in=list(ids))
        .annotate(order_count=Count("orders"))
        .prefetch_related(Prefetch("identities", queryset=identities.order_by("pk")))
    }
