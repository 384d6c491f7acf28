"""API authentication: `Authorization: Bearer <key>` (one shop) or a logged-in session."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from shops import selectors, services
from shops.models import ROLE_RANK, Role


class ApiKeyUser:
    """The caller behind an API key: authenticated, acts for exactly one shop as staff."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Use the header “Authorization: Bearer <your API key>”."))
        api_key = selectors.api_key_from_raw(raw_key=parts[1])
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid or has been revoked."))
        services.api_key_touch(api_key=api_key, request=request)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword


class IsShopMember(permissions.BasePermission):
    """Resolve request.shop for the API and require a role in it.

    With an API key the shop is the key's shop (role staff); with a session it is the
    shop chosen in the web app. Views can ask for a higher role with `required_role`;
    safe methods need viewer, others staff, unless the view says otherwise.
    """

    message = _("You are not a member of a shop, or your role does not allow this.")

    def has_permission(self, request, view) -> bool:
        shop, role = None, None
        if isinstance(request.user, ApiKeyUser):
            shop, role = request.auth.shop, Role.STAFF
        elif request.user and request.user.is_authenticated:
            membership = getattr(request._request, "membership", None)
            if membership is not None:
                shop, role = membership.shop, membership.role
        if shop is None:
            return False
        request.shop = shop
        request._request.shop = shop
        needed = getattr(view, "required_role", None) or (
            Role.VIEWER if request.method in permissions.SAFE_METHODS else Role.STAFF
        )
        return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]
