"""Writes for shops, memberships and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shops.models import ApiKey, Membership, Role, Shop, hash_api_key

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


def membership_add(*, shop: Shop, email: str, role: str) -> Membership:
    """Give an existing user a role in the shop (or change their role)."""
    try:
        user = User.objects.get(username=User.objects.normalize_email(email).lower())
    except User.DoesNotExist:
        raise ValidationError({"email": _("No account uses this email; ask them to sign up first.")}) from None
    existing = Membership.objects.filter(shop=shop, user=user).first()
    if (
        existing is not None
        and existing.role == Role.OWNER
        and role != Role.OWNER
        and Membership.objects.filter(shop=shop, role=Role.OWNER).count() <= 1
    ):
        raise ValidationError(_("A shop needs at least one owner; make someone else owner first."))
    membership, _created = Membership.objects.update_or_create(shop=shop, user=user, defaults={"role": role})
    return membership


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


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, to keep writes off the hot path."""
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.unscoped.filter(pk=api_key.pk).update(last_used_at=now)
