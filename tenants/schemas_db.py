"""Branch schemas: the template that new branches are cloned from, and making a branch's schema.

Replaying every migration for a new branch takes seconds; cloning a template schema that is
kept at the latest migration takes a fraction of that. The clone copies the template's rows,
which are exactly what Django itself needs (its migration records, content types and
permissions): nothing else is ever written to the template.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

logger = logging.getLogger(__name__)

# One key for every schema-creating operation: the clone function is dropped and re-created on
# each call, so two at once would trip over each other.
_SCHEMA_LOCK = 7_305_001


def template_schema_name() -> str:
    return settings.TENANT_TEMPLATE_SCHEMA


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def schema_lock() -> None:
    """Hold the schema-creation lock until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])


def applied_migrations(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {quote(schema)}.django_migrations")
        return set(cursor.fetchall())


def template_is_current() -> bool:
    schema = template_schema_name()
    if not schema_exists(schema):
        return False
    try:
        applied = applied_migrations(schema)
    except Exception:  # no django_migrations table: a half-made template
        return False
    return code_migrations() <= applied


def code_migrations() -> set[tuple[str, str]]:
    """Every migration in the code. ``migrate`` records all of them in a branch schema (the
    router only skips the operations of public-only apps), so a current schema has them all."""
    return set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def template_migrate(verbosity: int = 1) -> None:
    """Create the template if missing and bring it to the latest migration."""
    schema = template_schema_name()
    with transaction.atomic():
        schema_lock()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def branch_schema_create(schema: str) -> str:
    """Create ``schema`` for a new branch. Returns how: "clone" or "migrate"."""
    with transaction.atomic():
        schema_lock()
        if template_is_current():
            CloneSchema().clone_schema(template_schema_name(), schema, "DATA")
            _match_constraint_names(template_schema_name(), schema)
            return "clone"
    logger.warning(
        "branch template %s is missing or stale: replaying migrations for %s", template_schema_name(), schema
    )
    branch_schema_create_by_migrations(schema)
    return "migrate"


def _match_constraint_names(template: str, schema: str) -> None:
    """Give the clone's constraints the template's names.

    The clone function re-creates multi-column unique constraints under PostgreSQL's default
    names, not Django's; a later migration that drops or alters one by name would then fail on
    every cloned branch.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT nc.relname, c_new.conname, c_tpl.conname
            FROM pg_constraint c_tpl
            JOIN pg_class tc ON tc.oid = c_tpl.conrelid
            JOIN pg_namespace tn ON tn.oid = tc.relnamespace AND tn.nspname = %(template)s
            JOIN pg_class nc ON nc.relname = tc.relname
            JOIN pg_namespace nn ON nn.oid = nc.relnamespace AND nn.nspname = %(schema)s
            JOIN pg_constraint c_new ON c_new.conrelid = nc.oid AND c_new.contype = c_tpl.contype
                 AND pg_get_constraintdef(c_new.oid) = pg_get_constraintdef(c_tpl.oid)
            WHERE c_new.conname <> c_tpl.conname
              AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conrelid = nc.oid AND x.conname = c_tpl.conname)
            """,
            {"template": template, "schema": schema},
        )
        for table, clone_name, template_name in cursor.fetchall():
            table_name = f"{quote(schema)}.{quote(table)}"
            cursor.execute(f"ALTER TABLE {table_name} RENAME CONSTRAINT {quote(clone_name)} TO {quote(template_name)}")


def branch_schema_create_by_migrations(schema: str) -> None:
    """Always replay migrations (for the benchmark and the clone-equals-migrated test)."""
    with transaction.atomic():
        schema_lock()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {quote(schema)}")
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def branch_schema_drop(schema: str) -> None:
    if schema in {"public", template_schema_name(), "extensions"}:
        raise ValueError(f"refusing to drop {schema}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
