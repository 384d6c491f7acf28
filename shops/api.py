"""Base classes for every shop API view: the shop comes from the key or the session."""

from __future__ import annotations

from rest_framework import generics, viewsets

from shops.scope import enter_shop_scope, exit_shop_scope


class ShopScopedAPIMixin:
    """Runs the view inside request.shop's scope and narrows querysets to it.

    Subclasses implement get_shop_queryset(shop); anything not in that shop is 404.
    The scope is left in dispatch's finally, so an unhandled error cannot leak it into
    the next request served by the same thread.
    """

    _scope_token = None

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._scope_token is not None:
                exit_shop_scope(self._scope_token)
                self._scope_token = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication + IsShopMember set request.shop
        self._scope_token = enter_shop_scope(request.shop)

    def get_queryset(self):
        return self.get_shop_queryset(self.request.shop)

    def get_shop_queryset(self, shop):  # pragma: no cover - abstract
        raise NotImplementedError


class ShopReadOnlyViewSet(ShopScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ShopGenericAPIView(ShopScopedAPIMixin, generics.GenericAPIView):
    pass
