"""Branch schemas: the template new branches are cloned from, and making a branch's schema.

Replaying every migration for a new branch costs the migration framework's whole graph each
time. Instead a template schema is kept at the latest migration (``migrate`` does it), and a new
branch is a copy of it: the template's DDL, taken once per migration state with ``pg_dump``,
replayed under the new schema's name, plus the template's rows, which are exactly what Django
itself needs (its migration records, content types and permissions): nothing else is ever
written to the template. A missing or stale template falls back to replaying migrations.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists

from core.db import advisory_lock_held, tenant_connection
from core.postgres import pg_command
from tenants.db_roles import app_role_grant

logger = logging.getLogger(__name__)

# One key for every schema-creating operation, so that two onboardings never interleave DDL.
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


@functools.cache
def code_migrations() -> frozenset[tuple[str, str]]:
    """Every migration in the code (which does not change while a process runs). ``migrate``
    records all of them in a branch schema (the router only skips the operations of
    public-only apps), so a current schema has them all."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def _template_migrations() -> frozenset[tuple[str, str]] | None:
    """The template's applied migrations when it is current, else None."""
    schema = template_schema_name()
    if not schema_exists(schema):
        return None
    try:
        with transaction.atomic():
            applied = applied_migrations(schema)
    except Exception:  # no django_migrations table: a half-made template
        return None
    return frozenset(applied) if code_migrations() <= applied else None


def template_is_current() -> bool:
    return _template_migrations() is not None


def template_migrate(verbosity: int = 1) -> None:
    """Create the template if missing and bring it to the latest migration.

    The schema lock is held throughout (on a connection of its own: the migration runner
    closes Django's), so no branch is copied from a template half-way through a migration.
    """
    schema = template_schema_name()
    with advisory_lock_held(_SCHEMA_LOCK):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity)
        tenant_connection().set_schema_to_public()


@dataclass(frozen=True)
class TemplateSnapshot:
    migrations: frozenset[tuple[str, str]]
    ddl: str  # with PLACEHOLDER where the schema's name goes
    data_tables: tuple[str, ...]


PLACEHOLDER = "__branch_schema__"
_snapshot: TemplateSnapshot | None = None


def _take_snapshot(migrations: frozenset[tuple[str, str]]) -> TemplateSnapshot:
    template = template_schema_name()
    command, env = pg_command("pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--schema", template)
    dump = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        command,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    statements = "\n".join(
        line
        for line in dump.splitlines()
        # Session settings (search_path = '' above all) must not leak into our connection.
        if not line.startswith(("SET ", "SELECT pg_catalog.set_config", "\\"))
    )
    ddl = re.sub(rf"\b{re.escape(template)}\.", f"{PLACEHOLDER}.", statements)
    ddl = re.sub(rf"\bSCHEMA {re.escape(template)};", f"SCHEMA {PLACEHOLDER};", ddl)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [template])
        tables = [row[0] for row in cursor.fetchall()]
        data_tables = []
        for table in tables:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(template)}.{quote(table)})")
            if cursor.fetchone()[0]:
                data_tables.append(table)
    return TemplateSnapshot(migrations=migrations, ddl=ddl, data_tables=tuple(data_tables))


def _clone_template(schema: str, migrations: frozenset[tuple[str, str]]) -> None:
    global _snapshot
    if _snapshot is None or _snapshot.migrations != migrations:
        _snapshot = _take_snapshot(migrations)
    template = quote(template_schema_name())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL check_function_bodies = false")
        cursor.execute(_snapshot.ddl.replace(PLACEHOLDER, quote(schema)))
        for table in _snapshot.data_tables:
            cursor.execute(f"INSERT INTO {quote(schema)}.{quote(table)} SELECT * FROM {template}.{quote(table)}")
        # Rows came with their ids: move each identity past them, as migrating would have.
        cursor.execute(
            """
            SELECT c.relname, a.attname FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND a.attidentity <> '' AND c.relname = ANY(%s)
            """,
            [schema, list(_snapshot.data_tables)],
        )
        for table, column in cursor.fetchall():
            qualified = f"{quote(schema)}.{quote(table)}"
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), max({quote(column)})) FROM {qualified}",
                [qualified, column],
            )


class SchemaExistsError(Exception):
    """The schema exists already: it was not made here, and must not be dropped here."""


def branch_schema_create(schema: str) -> str:
    """Create ``schema`` for a new branch. Returns how: "clone" or "migrate"."""
    try:
        with transaction.atomic():
            schema_lock()
            if schema_exists(schema):
                raise SchemaExistsError(schema)
            migrations = _template_migrations()
            if migrations is not None:
                _clone_template(schema, migrations)
                app_role_grant(schema)
                return "clone"
        logger.warning(
            "branch template %s is missing or stale: replaying migrations for %s", template_schema_name(), schema
        )
    except SchemaExistsError:
        raise
    except (OSError, subprocess.SubprocessError, DatabaseError) as exc:
        # No pg_dump, a pg_dump of another major version, DDL the server refused: still onboard.
        logger.warning("could not copy the branch template (%s): replaying migrations for %s", exc, schema)
    branch_schema_create_by_migrations(schema)
    return "migrate"


def branch_schema_create_by_migrations(schema: str) -> None:
    """Always replay migrations (the fallback, and the reference the clone is tested against)."""
    with transaction.atomic():
        schema_lock()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {quote(schema)}")
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    tenant_connection().set_schema_to_public()
    app_role_grant(schema)


def branch_schema_drop(schema: str) -> None:
    if schema in {"public", template_schema_name(), "extensions"}:
        raise ValueError(f"refusing to drop {schema}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
