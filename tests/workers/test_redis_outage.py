"""Redis down: a prescription saved and a visit booked meanwhile both succeed, and once Redis is
back the relay and a real worker deliver the PDF and the confirmation, as `up` runs them; the
worker's log names the branch and the records, not the patient."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Treatment
from config.embedded import stop_process
from scheduling.models import Appointment, WorkingHours
from tests.clinical.conftest import assign, post, prescribe, register
from tests.clinical.test_prescription_pdf import _remove
from tests.conftest import worker_env, worker_start
from tests.scheduling.conftest import at
from workers.models import OutboxMessage

pytestmark = pytest.mark.worker


def _wait(condition, what: str, *, processes: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        for process in processes:
            assert process.poll() is None, f"{process.args} died"
        time.sleep(0.3)


def test_what_was_saved_while_redis_was_down_is_delivered_when_it_is_back(
    committed, spare_redis, monkeypatch, tmp_path
):
    stmarys = committed.branch("stmarys")
    mail_dir = tmp_path / "mail"
    env = worker_env({"REDIS_URL": spare_redis.url, "EMAIL_FILE_PATH": str(mail_dir)})
    worker = worker_start(env, tmp_path / "worker.log")
    processes = [worker]
    committed.cleanup(lambda: [stop_process(p) for p in processes])
    spare_redis.take_commits(monkeypatch)

    spare_redis.stop()
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(
        stmarys, full_name="Olwen Outage", email="olwen.outage@example.org", reminders={"channel": "email"}
    )
    committed.cleanup(lambda: _remove(stmarys, [patient["id"]]))
    assign(stmarys, patient["id"], doctor)
    prescription_id = prescribe(stmarys, doctor, patient["id"], diagnosis="Tension headache")  # saved: 201
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        day = timezone.localdate() + dt.timedelta(days=3)
        hours = WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12))
        treatment = Treatment.objects.create(name="Outage check", code="OUTC", duration_minutes=15)

    def remove_booking() -> None:
        with schema_context(stmarys.schema):
            Appointment.objects.filter(patient_id=patient["id"]).delete()
            treatment.delete()
            hours.delete()

    committed.cleanup(remove_booking)
    booked = post(
        stmarys.api(stmarys.user(Role.RECEPTIONIST)),
        "/api/appointments/",
        {
            "patient_id": patient["id"],
            "doctor_id": doctor.pk,
            "treatment_id": treatment.pk,
            "start": at(day, 10).isoformat(),
        },
    )

    # Both writes succeeded without Redis, and what follows them waits in the outbox.
    assert booked.status_code == 201, booked.content
    waiting = OutboxMessage.objects.filter(schema_name=stmarys.schema, sent_at__isnull=True)
    assert {m.task_name for m in waiting} >= {"clinical.render_prescription", "scheduling.send_confirmation"}
    assert all(m.last_error for m in waiting)
    doctor_api = stmarys.api(doctor)
    assert doctor_api.get(f"/api/prescriptions/{prescription_id}/pdf/").status_code == 202

    # Redis comes back; the relay (as `up` runs it) sends, the worker that waited it out delivers.
    spare_redis.start()
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "outbox_relay"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    processes.append(relay)

    _wait(
        lambda: doctor_api.get(f"/api/prescriptions/{prescription_id}/pdf/").status_code == 200,
        "the PDF was not made",
        processes=processes,
    )
    _wait(lambda: _mail_to("olwen.outage@example.org", mail_dir), "no confirmation arrived", processes=processes)
    confirmation = _mail_to("olwen.outage@example.org", mail_dir)
    assert "10:00" in confirmation
    assert "Tension headache" not in confirmation
    assert not OutboxMessage.objects.filter(schema_name=stmarys.schema, sent_at__isnull=True).exists()
    # The worker's log names the branch and the record, never the patient or what they have.
    log = (tmp_path / "worker.log").read_text()
    assert "[stmarys outbox-" in log
    assert prescription_id in log
    for secret in ("Olwen", "Outage", "olwen.outage", patient["mrn"], "Tension headache", "Paracetamol"):
        assert secret not in log


def _mail_to(address: str, mail_dir: Path) -> str:
    found = [p.read_text() for p in sorted(mail_dir.glob("*.log")) if address in p.read_text()]
    return found[0] if found else ""
