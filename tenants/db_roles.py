"""Two database roles: the owner, which migrates and creates branch schemas, and the
application role, which the web and worker processes use: it reads and writes rows, owns
nothing, and so can neither alter a table nor switch off the audit trail's guard.

A process that connects as the owner and is told the application role's name
(``DATABASE_APP_ROLE``) grants that role its rights whenever it makes schemas: ``migrate`` for
every schema, onboarding and ``restore_branch`` for the branch they make. With no name (one
machine, one role) nothing here runs.

The application role gets, in the public schema, every branch schema and the template:
reading and writing rows, and using sequences (MRNs, ids); never creating objects. On the
append-only tables it may only read and insert: an UPDATE, DELETE or TRUNCATE is refused by
the privileges themselves, before the trigger, which it cannot disable.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

# Tables whose rows are never changed or removed once written.
APPEND_ONLY_TABLES = ("clinical_auditevent",)


def app_role() -> str:
    return settings.DATABASE_APP_ROLE


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def app_role_check() -> None:
    """The role exists, is not the one connected, is no superuser and owns nothing."""
    role = app_role()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            raise ImproperlyConfigured(
                f"DATABASE_APP_ROLE names {role!r}, which does not exist: create it as the database's "
                f"administrator (CREATE ROLE {role} LOGIN PASSWORD '...'), then migrate again"
            )
        superuser, connected = row
        if connected:
            raise ImproperlyConfigured(
                f"DATABASE_APP_ROLE is {role!r}, the role this process connects as: migrate as the owner"
            )
        if superuser:
            raise ImproperlyConfigured(f"the application role {role!r} is a superuser: it must not be one")
        cursor.execute(
            """
            SELECT (SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s)
                 + (SELECT count(*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE r.rolname = %s)
            """,
            [role, role],
        )
        owned = cursor.fetchone()[0]
        if owned:
            raise ImproperlyConfigured(
                f"the application role {role!r} owns {owned} tables, sequences or schemas: as the owner, run "
                f"REASSIGN OWNED BY {role} TO current_user; then migrate again"
            )


def app_role_grant(schema: str) -> None:
    """Give the application role its rights in ``schema`` (a no-op with one role)."""
    role = app_role()
    if not role:
        return
    name, grantee = _quote(schema), _quote(role)
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE CREATE ON SCHEMA {name} FROM PUBLIC, {grantee}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {name} TO {grantee}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {name} TO {grantee}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {name} TO {grantee}")
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
            [schema, list(APPEND_ONLY_TABLES)],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {name}.{_quote(table)} FROM PUBLIC, {grantee}")


def app_role_grant_everywhere() -> list[str]:
    """Check the application role, then grant it its rights in every schema of the platform
    (public, each branch, the template). Returns the schemas. A no-op with one role."""
    if not app_role():
        return []
    app_role_check()
    from tenants.models import Hospital

    schemas = ["public", "extensions", settings.TENANT_TEMPLATE_SCHEMA]
    schemas += [schema for schema in Hospital.objects.values_list("schema_name", flat=True) if schema not in schemas]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [schemas])
        present = {row[0] for row in cursor.fetchall()}
    for schema in schemas:
        if schema in present:
            app_role_grant(schema)
    return [schema for schema in schemas if schema in present]


def can_create_schemas() -> bool:
    """Whether this process's role may create schemas (the owner can; the application role cannot)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_database_privilege(current_database(), 'CREATE')")
        return bool(cursor.fetchone()[0])
