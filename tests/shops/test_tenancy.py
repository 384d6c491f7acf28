import pytest

from customers.models import Customer
from shops.scope import ShopScopeError, shop_scope, unscoped_access
from tests.factories import CustomerFactory


@pytest.mark.django_db
def test_unscoped_query_on_shop_owned_model_raises():
    with pytest.raises(ShopScopeError, match="no shop in scope"):
        list(Customer.objects.all())


@pytest.mark.django_db
def test_scope_shows_only_that_shops_rows(shop, other_shop):
    mine = CustomerFactory(shop=shop)
    CustomerFactory(shop=other_shop)
    with shop_scope(shop):
        assert list(Customer.objects.all()) == [mine]
    assert list(Customer.objects.for_shop(shop)) == [mine]


@pytest.mark.django_db
def test_unscoped_access_is_an_explicit_escape_hatch(shop, other_shop):
    CustomerFactory(shop=shop)
    CustomerFactory(shop=other_shop)
    with unscoped_access():
        assert Customer.objects.count() == 2
