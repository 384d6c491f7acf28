"""Receivers of Django's signals for shops (connected in ShopsConfig.ready)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from shops import services


@receiver(user_logged_in, dispatch_uid="shops.accept_invitations")
def accept_invitations(sender, request, user, **kwargs) -> None:
    """Whoever logs in (or has just signed up) with an invited address gets the roles waiting for it."""
    services.invitations_accept(user=user)
