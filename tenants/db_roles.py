"""Two database roles: the owner, which migrates and creates branch schemas, and the
application role, which the web and worker processes use: it reads and writes rows, owns
nothing, and so can neither alter a table nor switch off the audit trail's guard.

A process that connects as the owner and is told the application role's name
(``DATABASE_APP_ROLE``) grants that role its rights whenever it makes schemas: ``migrate`` for
every schema, onboarding and ``restore_branch`` for the branch they make. With no name (one
machine, one role) nothing here runs.

The application role gets, in the public schema and every branch schema: reading and writing
rows, and using sequences (MRNs, ids); never creating objects. In the branch template, whose
rows every new branch copies, it gets nothing. On the
append-only tables it may only read and insert: an UPDATE, DELETE or TRUNCATE is refused by
the privileges themselves, before the trigger, which it cannot disable.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

# Tables whose rows are never changed or removed once written.
APPEND_ONLY_TABLES = ("clinical_auditevent",)


def app_role() -> str:
    return settings.DATABASE_APP_ROLE


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def app_role_check(schemas: list[str]) -> None:
    """The role exists, is not the one connected, holds no power beyond rows (no superuser, no
    role or database creation, no bypassing row security, no membership in the role connected
    or in any role owning ``schemas`` or their tables, whose ownership it would inherit) and
    owns nothing."""
    role = app_role()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rolname = current_user, rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls
            FROM pg_roles WHERE rolname = %s
            """,
            [role],
        )
        row = cursor.fetchone()
        if row is None:
            raise ImproperlyConfigured(
                f"DATABASE_APP_ROLE names {role!r}, which does not exist: create it as the database's "
                f"administrator (CREATE ROLE {role} LOGIN PASSWORD '...'), then migrate again"
            )
        connected, powerful = row
        if connected:
            raise ImproperlyConfigured(
                f"DATABASE_APP_ROLE is {role!r}, the role this process connects as: migrate as the owner"
            )
        if powerful:
            raise ImproperlyConfigured(
                f"the application role {role!r} may create roles or databases, bypass row security or is a "
                f"superuser: ALTER ROLE {role} NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS"
            )
        cursor.execute(
            """
            SELECT DISTINCT r.rolname FROM pg_roles r
            WHERE (
                r.rolname = current_user
                OR r.oid IN (SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = ANY(%s))
                OR r.oid IN (
                    SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = ANY(%s)
                )
            ) AND r.rolname <> %s AND pg_has_role(%s, r.oid, 'MEMBER')
            """,
            [schemas, schemas, role, role],
        )
        if cursor.fetchone():
            raise ImproperlyConfigured(
                f"the application role {role!r} is a member of the owner's role (or of a role owning the "
                f"schemas or their tables), and so may do what the owner does: REVOKE that role FROM {role}"
            )
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
    """Give the application role its rights in ``schema`` (a no-op with one role), in one
    transaction: never a moment with more than its rights on the audit trail."""
    role = app_role()
    if not role:
        return
    name, grantee = _quote(schema), _quote(role)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"REVOKE CREATE ON SCHEMA {name} FROM PUBLIC, {grantee}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {name} TO {grantee}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {name} TO {grantee}")
        cursor.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {name} TO {grantee}")
        for table in _append_only_tables(cursor, schema):
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {name}.{_quote(table)} FROM PUBLIC, {grantee}")


def _append_only_tables(cursor, schema: str) -> list[str]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
        [schema, list(APPEND_ONLY_TABLES)],
    )
    return [row[0] for row in cursor.fetchall()]


def app_role_shut_out(schema: str) -> None:
    """Take every right in ``schema`` from the application role: the branch template, whose
    rows every new branch copies, is written by the owner's migrations only."""
    name, grantee = _quote(schema), _quote(app_role())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"REVOKE CREATE ON SCHEMA {name} FROM PUBLIC, {grantee}")
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {name} FROM PUBLIC, {grantee}")
        cursor.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {name} FROM PUBLIC, {grantee}")
        cursor.execute(f"REVOKE USAGE ON SCHEMA {name} FROM PUBLIC, {grantee}")


def app_role_faults(schemas: list[str], *, shut_out: bool = False) -> list[str]:
    """What the application role may do in ``schemas`` that it should not, or may not do that it
    should (with ``shut_out``: anything at all). PostgreSQL only warns when a GRANT or REVOKE is
    given by a role that does not own the object (the administrator often owns ``public``): this
    reads what really holds, in three queries however many branches there are."""
    role = app_role()
    faults = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT nspname, has_schema_privilege(%s, oid, 'USAGE'), has_schema_privilege(%s, oid, 'CREATE')
            FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY nspname
            """,
            [role, role, schemas],
        )
        usable = []
        for schema, usage, create in cursor.fetchall():
            if create:
                faults.append(f"it may create objects in schema {schema}")
            if usage and shut_out:
                faults.append(f"it may use schema {schema}")
            elif usage:
                usable.append(schema)
            elif not shut_out:
                faults.append(f"it may not use schema {schema}")
        if not usable:
            return faults
        privileges = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        held = ", ".join(
            f"has_table_privilege(%s, format('%%I.%%I', schemaname, tablename), '{privilege}')"
            for privilege in privileges
        )
        cursor.execute(
            f"SELECT schemaname, tablename, {held} FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1, 2",
            [*[role] * len(privileges), usable],
        )
        for schema, table, *flags in cursor.fetchall():
            may = dict(zip(privileges, flags, strict=True))
            if not (may["SELECT"] and may["INSERT"]):
                faults.append(f"it may not read or insert into {schema}.{table}")
            if table in APPEND_ONLY_TABLES and (may["UPDATE"] or may["DELETE"]):
                faults.append(f"it may change or remove rows of the append-only {schema}.{table}")
            if table not in APPEND_ONLY_TABLES and not (may["UPDATE"] and may["DELETE"]):
                faults.append(f"it may not update or delete rows of {schema}.{table}")
            if may["TRUNCATE"]:
                faults.append(f"it may truncate {schema}.{table}")
        cursor.execute(
            """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(%s)
              AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(%s, c.oid, 'USAGE') ELSE false END
            ORDER BY 1, 2
            """,
            [usable, role],
        )
        faults += [f"it may not use the sequence {schema}.{sequence}" for schema, sequence in cursor.fetchall()]
    return faults


def app_role_grant_everywhere() -> list[str]:
    """Check the application role, grant it its rights in every schema of the platform (public,
    each ready branch) and none in the template, then check what really holds. Returns the
    schemas granted. A no-op with one role.

    A branch not yet ready is left to its onboarding or restore, which grants it when its
    schema is whole: read back while it is being built, it would fail this check."""
    if not app_role():
        return []
    from tenants.models import Hospital

    template = settings.TENANT_TEMPLATE_SCHEMA
    schemas = ["public", "extensions"]
    branches = Hospital.objects.filter(ready=True).values_list("schema_name", flat=True)
    schemas += [schema for schema in branches if schema not in schemas]
    app_role_check([*schemas, template])
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [[*schemas, template]])
        present = {row[0] for row in cursor.fetchall()}
    granted = [schema for schema in schemas if schema in present]
    for schema in granted:
        app_role_grant(schema)
    faults = app_role_faults(granted)
    if template in present:
        app_role_shut_out(template)
        faults += app_role_faults([template], shut_out=True)
    if faults:
        raise ImproperlyConfigured(
            f"the application role {app_role()!r} is not as it must be: "
            + "; ".join(faults[:10])
            + ". A GRANT or REVOKE on an object this role does not own only warns: as the owner of the "
            "schema (for public, often the administrator), run REVOKE CREATE ON SCHEMA public FROM PUBLIC, "
            "or make this role its owner, then migrate again"
        )
    return granted


def can_create_schemas() -> bool:
    """Whether this process's role may create schemas (the owner can; the application role cannot)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_database_privilege(current_database(), 'CREATE')")
        return bool(cursor.fetchone()[0])
