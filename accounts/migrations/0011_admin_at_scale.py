"""The admin at scale (docs/admin.md): indexes for the lists' newest-first orderings and the failed welcome emails,
and on PostgreSQL trigram indexes for the search boxes of users, welcome emails and memberships.

Django's admin search asks `UPPER(field::text) LIKE UPPER('%word%')` of each search field: no btree index
answers that, and with 200,000 users or memberships every search read them all (0.3 to 0.6 s). pg_trgm's
GIN indexes on the same expressions answer it in milliseconds. The extension ships with PostgreSQL
(contrib) and is trusted since PostgreSQL 13: the database's owner may create it. Where it cannot be
created the trigram indexes are left out with a warning: searches stay right, only slower. SQLite has
neither, and gets none.
"""

import logging

from django.db import DatabaseError, migrations, models, transaction

logger = logging.getLogger("accounts.migrations")

# model: the columns its admin searches with `icontains`
TRIGRAM_SEARCHED = {
    "user": ("username", "email", "clerk_id", "first_name", "last_name"),
    "organizationmembership": ("clerk_id", "user_clerk_id", "role"),
}


def _trigram_indexes(apps):
    """(index name, table, column) of each trigram index."""
    for model_name, columns in TRIGRAM_SEARCHED.items():
        table = apps.get_model("accounts", model_name)._meta.db_table
        for column in columns:
            yield f"{table}_{column}_trgm", table, column


def trigram_indexes_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=connection.alias):  # a savepoint: a refusal leaves the migration going
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        logger.warning("pg_trgm could not be created, the admin's searches will read whole tables: %s", exc)
        return
    quote = schema_editor.quote_name
    for name, table, column in _trigram_indexes(apps):
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} USING gin (UPPER({quote(column)}::text) gin_trgm_ops)"
        )


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _table, _column in _trigram_indexes(apps):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_welcome_email_batches"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterField(
            model_name="organization",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.AlterField(
            model_name="organizationmembership",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, db_index=True),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["date_joined"], name="accounts_user_joined_idx"),
        ),
        migrations.AddIndex(
            model_name="userprovisioning",
            index=models.Index(
                condition=models.Q(("welcome_email", "failed")),
                fields=["welcome_email_next_attempt_at"],
                name="accounts_prov_failed_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="userprovisioning",
            index=models.Index(fields=["provisioned_at"], name="accounts_prov_at_idx"),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]
