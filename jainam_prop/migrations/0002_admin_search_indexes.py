"""Indexes for the admin's case-insensitive prefix search (PostgreSQL only).

The admin searches ``UPPER(brsymbol) LIKE 'X%'`` and ``UPPER(name) LIKE 'X%'``. On PostgreSQL
these expression indexes with the ``text_pattern_ops`` operator class serve such prefixes under
any collation (``symbol`` already has its pattern index from 0001). Django's ``OpClass`` is
PostgreSQL-only, so the indexes are plain SQL run only there. SQLite cannot use an index for
``LIKE`` on an expression, so nothing is created on it (no write cost for no gain); its search
scans, which stays fast enough on the embedded development database.

The indexes are outside Django's model state on purpose: ``makemigrations`` sees no change.
"""

from django.db import migrations

INDEXES = {
    "symboltoken_brsymbol_upper_prefix": "UPPER(brsymbol) text_pattern_ops",
    "symboltoken_name_upper_prefix": "UPPER(name) text_pattern_ops",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("jainam_prop", "SymbolToken")._meta.db_table)
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {table} ({expression})"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("jainam_prop", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
