from __future__ import annotations

from shops import selectors
from shops.scope import enter_shop_scope, exit_shop_scope

SESSION_SHOP_KEY = "shop_id"


class ShopGateMiddleware:
    """Sets request.shop and request.membership from the session, and the shop scope.

    The shop comes only from the session, and only if the user is a member of it;
    it never comes from the URL or the request body. Views that need a shop say so
    with shops.decorators.shop_required.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.shop = None
        request.membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = selectors.membership_for(user=user, shop_id=request.session.get(SESSION_SHOP_KEY))
            if membership is None:
                membership = selectors.default_membership(user=user)
                if membership is not None:
                    request.session[SESSION_SHOP_KEY] = membership.shop_id
            if membership is not None:
                request.membership = membership
                request.shop = membership.shop
        if request.shop is None:
            return self.get_response(request)
        token = enter_shop_scope(request.shop)
        try:
            return self.get_response(request)
        finally:
            exit_shop_scope(token)
