"""Every stored customer and product gets the identity it was created with, and every customer
its email and phone keys (ADR 0009). Duplicates already stored are not merged here: that needs
the owner's eyes or `manage.py merge_duplicates` (a merge moves orders and campaign history)."""

from django.db import migrations

from customers.keys import email_key, phone_key

BATCH = 2000


def backfill(apps, schema_editor):
    Shop = apps.get_model("shops", "Shop")
    Customer = apps.get_model("customers", "Customer")
    Product = apps.get_model("customers", "Product")
    CustomerIdentity = apps.get_model("customers", "CustomerIdentity")
    ProductIdentity = apps.get_model("customers", "ProductIdentity")
    for shop in Shop.objects.all().iterator():
        customers = Customer._base_manager.filter(shop_id=shop.pk).order_by("pk")
        batch, identities = [], []
        for customer in customers.only("pk", "email", "phone", "source", "external_id").iterator(chunk_size=BATCH):
            customer.email_key = email_key(customer.email)
            customer.phone_key = phone_key(customer.phone, region=shop.phone_region)
            batch.append(customer)
            if customer.external_id:
                identities.append(
                    CustomerIdentity(
                        shop_id=shop.pk,
                        customer_id=customer.pk,
                        source=customer.source,
                        external_id=customer.external_id,
                    )
                )
            if len(batch) >= BATCH:
                Customer._base_manager.bulk_update(batch, ["email_key", "phone_key"])
                CustomerIdentity._base_manager.bulk_create(identities, ignore_conflicts=True)
                batch, identities = [], []
        Customer._base_manager.bulk_update(batch, ["email_key", "phone_key"])
        CustomerIdentity._base_manager.bulk_create(identities, ignore_conflicts=True)
        products = Product._base_manager.filter(shop_id=shop.pk).exclude(external_id="")
        ProductIdentity._base_manager.bulk_create(
            [
                ProductIdentity(shop_id=shop.pk, product_id=pk, source=source, external_id=external_id)
                for pk, source, external_id in products.values_list("pk", "source", "external_id").iterator()
            ],
            batch_size=BATCH,
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_identities")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
