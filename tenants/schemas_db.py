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
            return "clone"
    logger.warning(
        "branch template %s is missing or stale: replaying migrations for %s", template_schema_name(), schema
    )
    branch_schema_create_by_migrations(schema)
    return "migrate"


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
