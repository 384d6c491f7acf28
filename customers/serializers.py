from rest_framework import serializers

from customers.models import Customer, Order, OrderLine, Product


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "source",
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "gender",
            "occupation",
            "city",
            "country",
            "tags",
            "email_consent",
            "email_consent_at",
            "created_at",
            "updated_at",
        ]


class ProductOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "external_id", "source", "sku", "title", "category", "brand", "price", "updated_at"]


class OrderLineOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", default="", read_only=True)
    title = serializers.CharField(source="product.title", default="", read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "product", "sku", "title", "quantity", "unit_price"]


class OrderOutputSerializer(serializers.ModelSerializer):
    lines = OrderLineOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "external_id",
            "source",
            "customer",
            "placed_at",
            "currency",
            "total",
            "status",
            "lines",
            "updated_at",
        ]
