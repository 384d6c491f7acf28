"""A covering index of the scores the customer list joins, filters and sorts on (PostgreSQL only).

The customer list joins each customer's score in the current run and filters or sorts on a
handful of its columns. A score row is wide (its features and recommendations as JSON, about
1 KB), so reading 100,000 of them from the table took 40-50 ms; this index holds those columns
beside (shop, run, customer), and with the table vacuumed after each run (analytics.services)
the join reads the index only. SQLite has no INCLUDE; the unique (shop, run, customer)
constraint serves it there.
"""

from django.db import migrations

NAME = "analytics_score_run_customer_cover"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {NAME} ON analytics_customerscore (shop_id, run_id, customer_id) "
        "INCLUDE (rfm_group, churn_risk, clv_12m, monetary, frequency)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
