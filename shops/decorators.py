from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from shops.models import Role


def shop_required(view=None, *, role: str = Role.VIEWER):
    """Gate for every shop page: logged in, member of request.shop, at least `role`.

    Anonymous users go to the login page, users without a shop to the create-shop page,
    members without the role get 403. Objects are then looked up with shop=request.shop,
    so another shop's ids give 404.
    """

    def decorator(view_func):
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.shop is None:
                return redirect("shop_create")
            if not request.membership.has_role(role):
                raise PermissionDenied
            return view_func(request, *args, **kwargs)

        wrapped.shop_gate_role = role  # read by the URLconf guard tests
        return wrapped

    if view is not None:
        return decorator(view)
    return decorator
