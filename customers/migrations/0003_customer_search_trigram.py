"""Trigram indexes for the customer search (name and email contain the words typed), PostgreSQL only.

The search filters with `icontains`, which Django writes as UPPER(column) LIKE UPPER('%…%'); a
GIN index of pg_trgm on the same UPPER(column) answers it without reading every customer, and its
statistics let the planner see how many customers a search matches. pg_trgm ships with PostgreSQL
and is a trusted extension (any role that may create objects in the database can add it).
SQLite has neither and searches by scanning, as before.
"""

from django.db import migrations

COLUMNS = ("email", "first_name", "last_name")


def _index(column: str) -> str:
    return f"customers_customer_{column}_trgm"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {_index(column)} ON customers_customer "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )
    schema_editor.execute("ANALYZE customers_customer")  # statistics of the indexed expressions


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_index(column)}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_orderline_keys_in_code")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
