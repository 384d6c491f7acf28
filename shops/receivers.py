"""Receivers of Django's signals for shops (connected in ShopsConfig.ready)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from shops import services
from shops.audit import audit_record_for_user_shops
from shops.auth import normalize_login
from shops.models import AuditAction


@receiver(user_logged_in, dispatch_uid="shops.accept_invitations")
def accept_invitations(sender, request, user, **kwargs) -> None:
    """Whoever logs in (or has just signed up) with an invited address gets the roles waiting for it."""
    services.invitations_accept(user=user)


@receiver(user_logged_in, dispatch_uid="shops.audit_sign_in")
def audit_sign_in(sender, request, user, **kwargs) -> None:
    audit_record_for_user_shops(user=user, action=AuditAction.SIGN_IN, request=request)


@receiver(user_login_failed, dispatch_uid="shops.audit_sign_in_failed")
def audit_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    """A failed sign-in (a wrong password, or one refused by the throttle: both come through
    this one signal) goes to the shops of the account it named; an unknown name has no shop."""
    username = normalize_login((credentials or {}).get("username"))
    if not username:
        return
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        audit_record_for_user_shops(user=user, action=AuditAction.SIGN_IN_FAILED, request=request)
