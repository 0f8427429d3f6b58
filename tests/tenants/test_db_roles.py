"""Two database roles: ``migrate`` (run as the owner) grants the application role what the web
and workers need, and nothing more. Connected as that role, rows can be read and written, but
an audit row cannot be changed or removed, and no table dropped, altered or created."""

from __future__ import annotations

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical import services as clinical_services
from clinical.models import AuditEvent
from core.errors import DomainError
from tenants.backup import branch_export, branch_restore
from tenants.db_roles import app_role_faults, app_role_grant
from tenants.models import Hospital
from tenants.services import OnboardedBranch, branch_remove, hospital_onboard
from tests.conftest import email_of

APP_ROLE = "hospital_app_test"
APP_PASSWORD = "app-role-pass"


@pytest.fixture
def app_role(committed):
    """The application role, created as a database administrator would, and the platform
    migrated with DATABASE_APP_ROLE naming it. Dropped (with its grants) afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")

    def drop():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {APP_ROLE}")
            cursor.execute(f"DROP ROLE {APP_ROLE}")

    committed.cleanup(drop)
    with override_settings(DATABASE_APP_ROLE=APP_ROLE):
        call_command("migrate", interactive=False, verbosity=0)
        yield APP_ROLE


def _connect_as_app() -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"],
        port=params["PORT"],
        dbname=params["NAME"],
        user=APP_ROLE,
        password=APP_PASSWORD,
        autocommit=True,
    )


def _onboard(slug: str) -> OnboardedBranch:
    return hospital_onboard(
        group_name="G",
        name=slug.title(),
        slug=slug,
        country="GB",
        time_zone="Europe/London",
        admin_email=f"head@{slug}.test",
    )


def _refused(app: psycopg.Connection, sql: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refusal:
        app.execute(sql)
    return str(refusal.value)


def test_the_application_role_writes_rows_but_cannot_touch_the_audit_trail_or_the_tables(app_role):
    stmarys = "stmarys"
    with schema_context(stmarys):
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, stmarys))
        clinical_services.patient_register(
            actor=desk,
            data={"full_name": "Audra Audit", "gender": "female", "date_of_birth": "1969-09-09"},
            confirm_new=True,
        )
    with _connect_as_app() as app:
        assert app.execute("SELECT current_user").fetchone()[0] == APP_ROLE
        audit_rows = app.execute(f"SELECT count(*) FROM {stmarys}.clinical_auditevent").fetchone()[0]
        assert audit_rows > 0
        # Rows: read and written (inside a transaction undone afterwards).
        with app.transaction(force_rollback=True):
            changed = app.execute(f"UPDATE {stmarys}.clinical_patient SET full_name = full_name WHERE true").rowcount
            assert changed > 0
            app.execute(f"SELECT nextval('{stmarys}.clinical_mrn')")

        # The audit trail: refused by the privileges themselves (the trigger is not reached).
        assert "permission denied for table clinical_auditevent" in _refused(
            app, f"UPDATE {stmarys}.clinical_auditevent SET action = action"
        )
        assert "permission denied" in _refused(app, f"DELETE FROM {stmarys}.clinical_auditevent")
        assert "permission denied" in _refused(app, f"TRUNCATE {stmarys}.clinical_auditevent")
        # Nor can the guard be switched off, or any table dropped, altered or made.
        assert "must be owner" in _refused(
            app, f"ALTER TABLE {stmarys}.clinical_auditevent DISABLE TRIGGER clinical_audit_no_update_delete"
        )
        assert "must be owner" in _refused(app, f"DROP TABLE {stmarys}.clinical_patient")
        assert "must be owner" in _refused(app, "DROP TABLE public.tenants_hospital")
        assert "must be owner" in _refused(app, f"ALTER TABLE {stmarys}.clinical_patient ADD COLUMN x int")
        assert "permission denied for schema" in _refused(app, f"CREATE TABLE {stmarys}.sneaky (id int)")
        assert "permission denied for schema" in _refused(app, "CREATE TABLE public.sneaky (id int)")
        assert "permission denied for database" in _refused(app, "CREATE SCHEMA sneaky")
        # The branch template, whose rows every new branch copies, is closed to it.
        assert "permission denied for schema branch_template" in _refused(
            app, "INSERT INTO branch_template.auth_group (name) VALUES ('planted')"
        )
        assert app.execute(f"SELECT count(*) FROM {stmarys}.clinical_auditevent").fetchone()[0] == audit_rows
        owned = app.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
        ).fetchone()[0]
        assert owned == 0


def test_the_application_runs_as_that_role_and_cannot_onboard_a_branch(app_role):
    """A branch's everyday work (a patient registered: rows, an MRN, an audit row) goes through as
    the application role; onboarding, which makes a schema, says where it must be done instead."""
    with schema_context("stmarys"):
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        audit_before = AuditEvent.objects.count()
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {APP_ROLE}")
        try:
            patient = clinical_services.patient_register(
                actor=desk,
                data={"full_name": "Rhoda Role", "gender": "female", "date_of_birth": "1971-02-03"},
                confirm_new=True,
            ).patient
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                assert cursor.fetchone()[0] == APP_ROLE
            assert patient.mrn
            assert AuditEvent.objects.count() == audit_before + 1
            with pytest.raises(DomainError) as refusal:
                _onboard("roleless")
            assert refusal.value.code == "onboarding_needs_owner_role"
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
    with schema_context("public"):
        assert not Hospital.objects.filter(slug="roleless").exists()


def test_a_branch_onboarded_by_the_owner_is_open_to_the_application_role(app_role, committed):
    with override_settings(DATABASE_APP_ROLE=APP_ROLE):
        made = _onboard("granted").hospital
    committed.cleanup(lambda: branch_remove(made))
    schema = made.schema_name
    with _connect_as_app() as app:
        assert app.execute(f"SELECT count(*) FROM {schema}.accounts_user").fetchone()[0] == 1
        with app.transaction(force_rollback=True):
            app.execute(f"UPDATE {schema}.accounts_user SET first_name = 'Head'")
        assert "permission denied" in _refused(app, f"DELETE FROM {schema}.clinical_auditevent")
        assert "must be owner" in _refused(app, f"DROP TABLE {schema}.clinical_patient")


def test_a_branch_restored_by_the_owner_is_open_to_the_application_role(app_role, committed, tmp_path):
    archive = branch_export(slug="riverside", output=tmp_path / "riverside.tar.gz")
    with override_settings(DATABASE_APP_ROLE=APP_ROLE):
        restored = branch_restore(archive=archive, slug="riverside-copy")
    committed.cleanup(lambda: branch_remove(restored))
    with _connect_as_app() as app:
        users = app.execute(f"SELECT count(*) FROM {restored.schema_name}.accounts_user").fetchone()[0]
        assert users == app.execute("SELECT count(*) FROM riverside.accounts_user").fetchone()[0]
        assert "permission denied" in _refused(
            app, f"UPDATE {restored.schema_name}.clinical_auditevent SET action = ''"
        )
        assert "must be owner" in _refused(app, f"DROP TABLE {restored.schema_name}.clinical_patient")


def test_migrate_refuses_an_application_role_with_more_than_rows(app_role):
    """A role that could act as the owner, or a grant PostgreSQL only warned about, stops
    ``migrate`` with what to do, rather than leaving the audit trail open."""
    with connection.cursor() as cursor:
        cursor.execute(f"GRANT {connection.settings_dict['USER']} TO {APP_ROLE}")
    try:
        with override_settings(DATABASE_APP_ROLE=APP_ROLE), pytest.raises(ImproperlyConfigured, match="member"):
            call_command("migrate", interactive=False, verbosity=0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"REVOKE {connection.settings_dict['USER']} FROM {APP_ROLE}")

    with override_settings(DATABASE_APP_ROLE=APP_ROLE):
        assert app_role_faults(["stmarys"]) == []
        with connection.cursor() as cursor:
            cursor.execute(f"GRANT CREATE ON SCHEMA stmarys TO {APP_ROLE}")
            cursor.execute(f"GRANT DELETE ON stmarys.clinical_auditevent TO {APP_ROLE}")
            cursor.execute(f"REVOKE USAGE ON SEQUENCE stmarys.clinical_mrn FROM {APP_ROLE}")
        assert app_role_faults(["stmarys"]) == [
            "it may create objects in schema stmarys",
            "it may change or remove rows of the append-only stmarys.clinical_auditevent",
            "it may not use the sequence stmarys.clinical_mrn",
        ]
        app_role_grant("stmarys")  # what migrate does each time: the extra rights are taken back
        assert app_role_faults(["stmarys"]) == []
