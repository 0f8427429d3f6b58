"""One branch exported (its schema and files in one archive) and restored under another name:
the same rows and files there, and no other branch touched."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiToken, Role, User
from accounts.tokens import token_digest
from clinical import services as clinical_services
from clinical.models import AuditEvent, Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment
from tenants.models import Hospital
from tenants.services import branch_remove
from tests.conftest import PASSWORD, email_of


def _tokens_forget(branch, access: str) -> None:
    """The sign-in this test made at the original branch (its access and refresh tokens)."""
    with schema_context(branch.schema):
        family = ApiToken.objects.filter(key_hash=token_digest(access)).values_list("family", flat=True).first()
        ApiToken.objects.filter(family=family).delete()


def _counts(schema: str) -> tuple[int, int, int, int]:
    with schema_context(schema):
        return (
            Patient.objects.count(),
            Appointment.objects.count(),
            AuditEvent.objects.count(),
            User.objects.count(),
        )


def test_a_branch_exported_and_restored_under_another_name_has_the_same_rows_and_files(committed, tmp_path):
    stmarys, riverside = committed.branch("stmarys"), committed.branch("riverside")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        patient = clinical_services.patient_register(
            actor=desk,
            # the branch's own name inside a row: a restore renames the schema, never the data
            data={
                "full_name": "Bea Backup",
                "gender": "female",
                "date_of_birth": "1960-06-06",
                "email": "bea@stmarys.example",
            },
            confirm_new=True,
        ).patient
        treatment = Treatment.objects.create(name="Backup check", code="BKUP", duration_minutes=15)
        start = timezone.now() + dt.timedelta(days=3)
        visit = Appointment.objects.create(
            patient=patient,
            doctor=User.objects.get(email=email_of(Role.DOCTOR, "stmarys")),
            treatment=treatment,
            start=start,
            end=start + dt.timedelta(minutes=15),
        )
        stored = default_storage.save("prescriptions/backup-test.pdf", ContentFile(b"%PDF-1.4 backup test"))

    def remove() -> None:
        with schema_context("public"):
            for restored in Hospital.objects.filter(slug="stmarys-copy"):
                branch_remove(restored)
        with schema_context(stmarys.schema):
            default_storage.delete(stored)
            Appointment.objects.filter(pk=visit.pk).delete()
            PatientUserObjectPermission.objects.filter(content_object=patient).delete()
            Patient.objects.filter(pk=patient.pk).delete()
            treatment.delete()

    committed.cleanup(remove)
    archive = tmp_path / "stmarys.tar.gz"
    before = {"stmarys": _counts(stmarys.schema), "riverside": _counts(riverside.schema)}

    call_command("export_branch", "stmarys", output=str(archive))
    call_command("restore_branch", str(archive), slug="stmarys-copy")

    with schema_context("public"):
        copy = Hospital.objects.get(slug="stmarys-copy")
    assert copy.ready
    assert copy.name == "St Mary's Hospital (restored)"
    assert copy.domains.get().domain == "stmarys-copy.localhost"
    assert _counts(copy.schema_name) == before["stmarys"]
    with schema_context(copy.schema_name):
        connection.set_tenant(copy)
        restored_patient = Patient.objects.get(pk=patient.pk)
        assert (restored_patient.full_name, restored_patient.email) == ("Bea Backup", "bea@stmarys.example")
        assert Appointment.objects.get(pk=visit.pk).start == visit.start
        with default_storage.open(stored, "rb") as copied:
            assert copied.read() == b"%PDF-1.4 backup test"
        # the restored branch's sequences go on from where the original's were
        assert Patient.objects.order_by("-registered_at").first().pk == patient.pk
    # its staff sign in at its own host with their passwords; the original's tokens are refused there
    at_copy = Client(HTTP_HOST="stmarys-copy.localhost")
    signed_in = at_copy.post(
        "/api/auth/token/",
        {"username": email_of(Role.DOCTOR, "stmarys"), "password": PASSWORD},
        content_type="application/json",
    )
    assert signed_in.status_code == 200
    original_token = stmarys.token(stmarys.user(Role.DOCTOR))
    committed.cleanup(lambda: _tokens_forget(stmarys, original_token))
    assert at_copy.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {original_token}").status_code == 401
    # nothing else changed
    assert _counts(stmarys.schema) == before["stmarys"]
    assert _counts(riverside.schema) == before["riverside"]
    with schema_context(stmarys.schema):
        assert default_storage.exists(stored)
