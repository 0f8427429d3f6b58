"""The audit trail holds: the database refuses to change it, the chain shows a row changed behind
the trigger's back, and a refused read is recorded although the request failed."""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import AuditEvent
from tests.clinical.conftest import register

pytestmark = pytest.mark.django_db


@contextmanager
def in_branch(branch):
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        yield


def trail(branch) -> list[tuple[int, str]]:
    with in_branch(branch):
        return list(AuditEvent.objects.order_by("id").values_list("id", "hash"))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE clinical_auditevent SET actor_name = 'someone else'",
        "DELETE FROM clinical_auditevent",
        "TRUNCATE clinical_auditevent",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_rows(stmarys, sql):
    register(stmarys)
    before = trail(stmarys)
    assert before

    with (
        in_branch(stmarys),
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)

    assert trail(stmarys) == before


def test_an_intact_chain_passes_verification(stmarys):
    register(stmarys)
    register(stmarys, full_name="Ben Okafor", date_of_birth="1984-11-30")
    out = io.StringIO()

    call_command("verify_audit_chain", stdout=out)

    lines = out.getvalue().splitlines()
    assert any(line.startswith("stmarys: ") and line.endswith(" events, chain intact") for line in lines)
    assert any(line.startswith("riverside: ") for line in lines)


def test_a_row_edited_behind_the_triggers_back_is_named_by_verification(stmarys):
    # given: a trail of a few events, one of which is then edited with the trigger switched off
    register(stmarys)
    register(stmarys, full_name="Ben Okafor", date_of_birth="1984-11-30")
    with in_branch(stmarys):
        victim = AuditEvent.objects.order_by("-id")[1]
        with transaction.atomic(), connection.cursor() as cursor:
            # Replica mode skips ordinary triggers; only a superuser may set it (the test user is).
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                "UPDATE clinical_auditevent SET detail = %s WHERE id = %s", ['{"note": "nothing to see"}', victim.id]
            )
            cursor.execute("SET LOCAL session_replication_role = origin")
    out, err = io.StringIO(), io.StringIO()

    # when
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit_chain", "--branch", "stmarys", stdout=out, stderr=err)

    # then
    assert err.getvalue().splitlines() == [
        f"stmarys: event {victim.id} its content does not match its hash (the row was edited)"
    ]


def test_verifying_an_unknown_branch_is_an_error(stmarys):
    with pytest.raises(CommandError, match="no ready branch"):
        call_command("verify_audit_chain", "--branch", "nowhere", stdout=io.StringIO())


def test_a_denied_read_is_recorded_as_denied_although_the_answer_was_403(stmarys):
    patient = register(stmarys)
    doctor = stmarys.user(Role.DOCTOR)

    response = stmarys.api(doctor).get(f"/api/patients/{patient['id']}/")

    assert response.status_code == 403
    with in_branch(stmarys):
        event = AuditEvent.objects.get(actor_id=doctor.pk, patient_id=patient["id"])
    assert event.action == AuditEvent.Action.VIEW_PROFILE
    assert event.outcome == AuditEvent.Outcome.DENIED
    assert event.actor_role == Role.DOCTOR
    assert not event.break_glass
