from drf_spectacular.utils import extend_schema, extend_schema_view

from customers import selectors
from customers.serializers import CustomerOutputSerializer, OrderOutputSerializer, ProductOutputSerializer
from shops.api import ShopReadOnlyViewSet


@extend_schema_view(
    list=extend_schema(summary="List the shop's customers"), retrieve=extend_schema(summary="One customer")
)
class CustomerViewSet(ShopReadOnlyViewSet):
    serializer_class = CustomerOutputSerializer

    def get_shop_queryset(self, shop):
        return selectors.customer_list(shop=shop)


@extend_schema_view(
    list=extend_schema(summary="List the shop's products"), retrieve=extend_schema(summary="One product")
)
class ProductViewSet(ShopReadOnlyViewSet):
    serializer_class = ProductOutputSerializer

    def get_shop_queryset(self, shop):
        return selectors.product_list(shop=shop)


@extend_schema_view(
    list=extend_schema(summary="List the shop's orders with their lines"),
    retrieve=extend_schema(summary="One order with its lines"),
)
class OrderViewSet(ShopReadOnlyViewSet):
    serializer_class = OrderOutputSerializer

    def get_shop_queryset(self, shop):
        return selectors.order_list(shop=shop)
