"""Writes for shops, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.audit import audit_record
from shops.models import ApiKey, AuditAction, Invitation, Membership, Role, Shop, hash_api_key

User = get_user_model()


def shop_create(
    *,
    name: str,
    slug: str,
    owner: AbstractBaseUser,
    timezone_name: str = "UTC",
    currency: str = "EUR",
    postal_address: str = "",
) -> Shop:
    """Create a shop and make `owner` its owner. Refuses a taken slug with a ValidationError."""
    if Shop.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("The address “%(slug)s” is already taken.") % {"slug": slug}})
    shop = Shop(name=name, slug=slug, timezone=timezone_name, currency=currency.upper(), postal_address=postal_address)
    shop.full_clean()
    with transaction.atomic():
        shop.save()
        Membership.objects.create(shop=shop, user=owner, role=Role.OWNER)
    return shop


def user_create(*, email: str, password: str) -> AbstractBaseUser:
    """A user whose username is the email (lower-cased). Refuses a taken email."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(username=email).exists():
        raise ValidationError({"email": _("An account with this email already exists.")})
    user = User(username=email, email=email)
    user.set_password(password)
    user.save()
    return user


def shop_update(*, shop: Shop, **fields) -> Shop:
    for name, value in fields.items():
        setattr(shop, name, value)
    shop.full_clean()
    shop.save()
    return shop


def member_invite(*, shop: Shop, email: str, role: str, invited_by: AbstractBaseUser | None = None) -> None:
    """Give whoever uses `email` a role in the shop.

    A current member's role changes at once (members are listed on the owner's page anyway);
    for anyone else an Invitation waits until they log in or sign up with that address. Both
    cases for a non-member look the same to the caller, so "add member" cannot be used to learn
    which addresses have accounts. Refuses (ValidationError) to demote the shop's last owner.
    """
    email = User.objects.normalize_email(email).strip().lower()
    existing = Membership.objects.filter(shop=shop, user__username=email).first()
    if existing is not None:
        if (
            existing.role == Role.OWNER
            and role != Role.OWNER
            and Membership.objects.filter(shop=shop, role=Role.OWNER).count() <= 1
        ):
            raise ValidationError(_("A shop needs at least one owner; make someone else owner first."))
        existing.role = role
        existing.save(update_fields=["role"])
        return
    Invitation.objects.update_or_create(shop=shop, email=email, defaults={"role": role, "invited_by": invited_by})


def invitations_accept(*, user: AbstractBaseUser) -> list[Membership]:
    """Turn the invitations for the user's email address into memberships (called at login and signup)."""
    email = (user.get_username() or "").strip().lower()
    if not email:
        return []
    memberships = []
    with transaction.atomic():
        for invitation in Invitation.objects.select_for_update().filter(email=email).select_related("shop"):
            membership, _created = Membership.objects.get_or_create(
                shop=invitation.shop, user=user, defaults={"role": invitation.role}
            )
            memberships.append(membership)
            invitation.delete()
    return memberships


def invitation_cancel(*, invitation: Invitation) -> None:
    invitation.delete()


def membership_remove(*, membership: Membership) -> None:
    """Remove a member; refuses to remove the last owner."""
    if membership.role == Role.OWNER and (
        Membership.objects.filter(shop=membership.shop, role=Role.OWNER).count() <= 1
    ):
        raise ValidationError(_("A shop needs at least one owner."))
    membership.delete()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown to the user once, never stored


def api_key_create(*, shop: Shop, name: str, created_by: AbstractBaseUser | None = None) -> IssuedApiKey:
    raw = ApiKey.generate_raw_key()
    key = ApiKey.unscoped.create(
        shop=shop, name=name, prefix=raw[:10], hashed_key=hash_api_key(raw), created_by=created_by
    )
    return IssuedApiKey(api_key=key, raw_key=raw)


def api_key_revoke(*, api_key: ApiKey) -> None:
    api_key.revoke()


def api_key_touch(*, api_key: ApiKey, request: HttpRequest | None = None) -> None:
    """Record use at most once a minute, to keep writes off the hot path; the first use of each
    day (in the shop's time zone) goes to the audit log, claimed with a conditional UPDATE so
    concurrent requests write it once."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.unscoped.filter(pk=api_key.pk).update(last_used_at=now)
    today = now.astimezone(api_key.shop.tzinfo).date()
    if api_key.last_used_on == today:
        return
    claimed = (
        ApiKey.unscoped.filter(pk=api_key.pk)
        .filter(Q(last_used_on__isnull=True) | Q(last_used_on__lt=today))
        .update(last_used_on=today)
    )
    if claimed:
        api_key.last_used_on = today
        audit_record(
            shop=api_key.shop,
            action=AuditAction.API_KEY_USED,
            api_key=api_key,
            target=("api_key", api_key.pk),
            request=request,
        )
