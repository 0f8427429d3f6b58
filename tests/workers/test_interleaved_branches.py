"""Tasks of two branches interleaved on one worker process each run in their own branch's schema,
even where their ids are the same number in both."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, Treatment
from scheduling.models import Appointment, ReminderSend
from scheduling.reminders import SEND_TASK
from workers.outbox import outbox_enqueue

pytestmark = pytest.mark.worker

# The same reminder ids in both branches: a task that ran in the wrong schema would find the
# other branch's reminder and write to the other branch's patient.
REMINDER_IDS = [990001, 990002, 990003]


def _reminders(branch) -> list[str]:
    """Three reminders due in ``branch``, one patient each; returns their e-mail addresses."""
    addresses = []
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        doctor = branch.user(Role.DOCTOR)
        treatment = Treatment.objects.create(name="Interleave check", code="INTL", duration_minutes=15)
        start = timezone.now() + dt.timedelta(hours=2)
        for number, reminder_id in enumerate(REMINDER_IDS):
            address = f"interleave-{branch.slug}-{number}@example.org"
            patient = Patient.objects.create(
                mrn=f"INTL{number:04d}",
                full_name=f"Interleave {branch.slug} {number}",
                name_search=f"interleave {branch.slug} {number}",
                gender="other",
                date_of_birth=dt.date(1980, 1, 1),
                email=address,
                contact_channel="email",
            )
            visit_start = start + dt.timedelta(minutes=15 * number)
            appointment = Appointment.objects.create(
                patient=patient,
                doctor=doctor,
                treatment=treatment,
                start=visit_start,
                end=visit_start + dt.timedelta(minutes=15),
            )
            ReminderSend.objects.create(
                id=reminder_id,
                appointment=appointment,
                offset_minutes=120,
                channel="email",
                for_start=visit_start,
                due_at=timezone.now(),
            )
            addresses.append(address)
    return addresses


def _remove(branch) -> None:
    with schema_context(branch.schema):
        appointments = Appointment.objects.filter(treatment__code="INTL")
        ReminderSend.objects.filter(appointment__in=appointments).delete()
        patients = list(appointments.values_list("patient_id", flat=True))
        appointments.delete()
        Patient.objects.filter(pk__in=patients).delete()
        Treatment.objects.filter(code="INTL").delete()


def test_tasks_of_two_branches_interleaved_on_one_worker_each_run_in_their_branch(committed, celery_worker):
    stmarys, riverside = committed.branch("stmarys"), committed.branch("riverside")
    committed.cleanup(lambda: _remove(stmarys))
    committed.cleanup(lambda: _remove(riverside))
    addresses = {branch.slug: _reminders(branch) for branch in (stmarys, riverside)}

    # One worker with one pool process takes them in this order: A, B, A, B, A, B.
    for reminder_id in REMINDER_IDS:
        for branch in (stmarys, riverside):
            with schema_context(branch.schema), transaction.atomic():
                outbox_enqueue(SEND_TASK, reminder_id=reminder_id)

    for branch in (stmarys, riverside):
        for address in addresses[branch.slug]:
            mail = celery_worker.wait_for_mail(address)
            assert branch.hospital.name in mail
    for branch in (stmarys, riverside):
        with schema_context(branch.schema):
            sent = ReminderSend.objects.filter(pk__in=REMINDER_IDS, status=ReminderSend.Status.SENT)
            assert sent.count() == 3
    every_mail = "\n".join(celery_worker.mails())
    for address in addresses["stmarys"] + addresses["riverside"]:
        assert every_mail.count(f"To: {address}") == 1
