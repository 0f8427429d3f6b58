"""A prescription's PDF survives a worker process killed mid-render: the message comes back
(late acknowledgement, rejected on a lost worker) and the PDF is made, once."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, Prescription, PrescriptionLine, TreatmentRecord
from clinical.services import PRESCRIPTION_RENDER_TASK
from workers.outbox import outbox_enqueue

pytestmark = pytest.mark.worker


def _pool_children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def _waiting_on_lock(db, table: str) -> bool:
    """Whether another backend waits for a row lock in a query on ``table``."""
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
        "AND pid <> pg_backend_pid()",
        [f"%{table}%"],
    ).fetchone()
    return bool(row and row[0])


def test_a_render_killed_midway_is_redone_and_stored_once(committed, celery_worker):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        with transaction.atomic():
            patient = Patient.objects.create(
                mrn="KILL0001",
                full_name="Killian Render",
                name_search="killian render",
                gender="male",
                date_of_birth="1970-07-07",
            )
            record = TreatmentRecord.objects.create(
                patient=patient,
                doctor=stmarys.user(Role.DOCTOR),
                lineage="5d1f0c6e-7b1a-4c39-9a39-3f9b1f2d0a11",
                visit_at="2026-11-20T10:00:00Z",
                id="5d1f0c6e-7b1a-4c39-9a39-3f9b1f2d0a11",
                diagnosis="Test",
            )
            prescription = Prescription.objects.create(record=record)
            PrescriptionLine.objects.create(
                prescription=prescription,
                position=1,
                medicine="Ibuprofen",
                dose="400 mg",
                frequency="three times a day",
                duration="3 days",
            )

    def remove() -> None:
        with schema_context(stmarys.schema):
            fresh = Prescription.objects.get(pk=prescription.pk)
            if fresh.pdf_file:
                fresh.pdf_file.delete(save=False)
            fresh.delete()
            record.delete()
            patient.delete()

    committed.cleanup(remove)
    db = settings.DATABASES["default"]
    blocker = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    # Activity is read outside the blocker's transaction: a transaction sees one snapshot of it.
    watcher = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)
    try:
        # The render will wait on the prescription's row: long enough to kill it midway.
        blocker.execute(f'SET search_path = "{stmarys.schema}"')
        blocker.execute("SELECT 1 FROM clinical_prescription WHERE id = %s FOR UPDATE", [prescription.pk])
        with schema_context(stmarys.schema), transaction.atomic():
            outbox_enqueue(PRESCRIPTION_RENDER_TASK, prescription_id=str(prescription.pk))
        deadline = time.monotonic() + 30
        while not _waiting_on_lock(watcher, "clinical_prescription"):
            assert time.monotonic() < deadline, "the worker never started the render"
            time.sleep(0.1)
        children = _pool_children(celery_worker.process.pid)
        assert children, "the worker has no pool process"
        for child in children:
            os.kill(child, signal.SIGKILL)
    finally:
        blocker.rollback()
        blocker.close()
        watcher.close()

    deadline = time.monotonic() + 60
    with schema_context(stmarys.schema):
        while Prescription.objects.get(pk=prescription.pk).pdf_status != Prescription.PdfStatus.READY:
            assert time.monotonic() < deadline, "the PDF was not made after the worker was killed"
            assert celery_worker.process.poll() is None, "the whole worker died"
            time.sleep(0.2)
        made = Prescription.objects.get(pk=prescription.pk)
        folder = os.path.dirname(made.pdf_file.path)
        files = [name for name in os.listdir(folder) if name.startswith(str(prescription.pk))]
    assert files == [f"{prescription.pk}.pdf"]
    assert made.pdf_sha256
