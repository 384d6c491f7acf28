"""Reads for shops and memberships."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from shops.models import ApiKey, Invitation, Membership, Shop, hash_api_key


def shops_for_user(*, user: AbstractBaseUser) -> QuerySet[Shop]:
    if not user.is_authenticated:
        return Shop.objects.none()
    return Shop.objects.filter(memberships__user=user).order_by("name")


def membership_for(*, user: AbstractBaseUser, shop_id: int | None) -> Membership | None:
    """The user's membership in the shop, or None (also for anonymous users and missing shops)."""
    if not user.is_authenticated or shop_id is None:
        return None
    return Membership.objects.select_related("shop").filter(user=user, shop_id=shop_id).first()


def default_membership(*, user: AbstractBaseUser) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.select_related("shop").filter(user=user).order_by("shop__name").first()


def shop_members(*, shop: Shop) -> QuerySet[Membership]:
    return Membership.objects.filter(shop=shop).select_related("user").order_by("user__username")


def shop_invitations(*, shop: Shop) -> QuerySet[Invitation]:
    return Invitation.objects.filter(shop=shop).order_by("email")


def api_keys_for_shop(*, shop: Shop) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_shop(shop).select_related("created_by")


def api_key_from_raw(*, raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None."""
    return ApiKey.unscoped.active().select_related("shop").filter(hashed_key=hash_api_key(raw_key)).first()
