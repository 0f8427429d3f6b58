"""The fast path: a branch cloned from the template equals one made by replaying migrations."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from tenants import schemas_db


def _rows(sql: str, schema: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"s": schema})
        return sorted(tuple(str(v).replace(schema, "<schema>") for v in row) for row in cursor.fetchall())


CATALOGUE = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity,
                  character_maximum_length FROM information_schema.columns WHERE table_schema = %(s)s""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
    "constraints": """SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %(s)s""",
    "triggers": """SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement
                   FROM information_schema.triggers WHERE trigger_schema = %(s)s""",
    "functions": """SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
                    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s""",
    "sequences": """SELECT sequencename, start_value, increment_by, coalesce(last_value, 0)
                    FROM pg_sequences WHERE schemaname = %(s)s""",
    "tables": "SELECT tablename FROM pg_tables WHERE schemaname = %(s)s",
}


def _row_counts(schema: str) -> dict[str, int]:
    counts = {}
    for (table,) in _rows(CATALOGUE["tables"], schema):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def _data(schema: str, table: str, columns: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{schema}"."{table}" ORDER BY 1')
        return cursor.fetchall()


# A leaf migration whose operations do not touch a branch schema: safe to forget and re-apply.
FORGOTTEN = "workers", "0001_initial"


@pytest.fixture
def clone_and_migrated(committed):
    committed.cleanup(lambda: [schemas_db.branch_schema_drop(s) for s in ("t_clone", "t_migrated")])
    assert schemas_db.template_is_current()
    assert schemas_db.branch_schema_create("t_clone") == "clone"
    schemas_db.branch_schema_create_by_migrations("t_migrated")
    return "t_clone", "t_migrated"


def test_clone_has_the_same_structure_as_a_migrated_schema(clone_and_migrated):
    clone, migrated = clone_and_migrated

    for what, sql in CATALOGUE.items():
        assert _rows(sql, clone) == _rows(sql, migrated), f"{what} differ"
    assert _rows(CATALOGUE["tables"], clone), "the clone has no tables at all"


def test_clone_copies_only_what_django_needs(clone_and_migrated):
    clone, migrated = clone_and_migrated

    counts = _row_counts(clone)
    assert counts == _row_counts(migrated)
    non_empty = {table for table, count in counts.items() if count}
    assert non_empty == {"django_migrations", "django_content_type", "auth_permission"}
    assert _data(clone, "django_content_type", "id, app_label, model") == _data(
        migrated, "django_content_type", "id, app_label, model"
    )
    assert _data(clone, "auth_permission", "id, codename, content_type_id") == _data(
        migrated, "auth_permission", "id, codename, content_type_id"
    )
    assert {r[1:] for r in _data(clone, "django_migrations", "id, app, name")} == {
        r[1:] for r in _data(migrated, "django_migrations", "id, app, name")
    }


def test_clone_sequences_start_afresh_for_branch_data(clone_and_migrated):
    clone, _migrated = clone_and_migrated

    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{clone}".auth_group (name) VALUES (%s) RETURNING id', ["first"])
        assert cursor.fetchone()[0] == 1


def test_stale_template_falls_back_to_migrations(committed):
    # given a template that misses one migration of the code
    template = schemas_db.template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{template}".django_migrations WHERE app = %s AND name = %s', FORGOTTEN)
    committed.cleanup(lambda: call_command("migrate", interactive=False, verbosity=0))
    committed.cleanup(lambda: schemas_db.branch_schema_drop("t_stale"))

    # when a branch schema is made
    assert not schemas_db.template_is_current()
    method = schemas_db.branch_schema_create("t_stale")

    # then migrations were replayed, and the schema is complete
    assert method == "migrate"
    assert schemas_db.code_migrations() <= schemas_db.applied_migrations("t_stale")


def test_missing_template_falls_back_to_migrations(committed):
    template = schemas_db.template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{template}" RENAME TO template_away')

    def restore():
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA template_away RENAME TO "{template}"')

    committed.cleanup(restore)
    committed.cleanup(lambda: schemas_db.branch_schema_drop("t_notemplate"))

    assert schemas_db.branch_schema_create("t_notemplate") == "migrate"
    assert schemas_db.code_migrations() <= schemas_db.applied_migrations("t_notemplate")


def test_migrate_brings_the_template_up_to_date(committed):
    template = schemas_db.template_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{template}".django_migrations WHERE app = %s AND name = %s', FORGOTTEN)
    assert not schemas_db.template_is_current()

    call_command("migrate", interactive=False, verbosity=0)

    assert schemas_db.template_is_current()
