"""Twenty receptionists issuing tokens for one doctor and session at the same moment, each on
their own connection: twenty different numbers, none lost."""

from __future__ import annotations

import datetime as dt
import threading

from django.db import connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment, QueueCounter, QueueEntry, QueueEvent
from scheduling.queue import _number_take, queue_walk_in
from tests.scheduling.test_queue import _day_hours


def test_twenty_tokens_issued_at_once_are_twenty_numbers(ten_oclock, committed):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        desk = stmarys.user(Role.RECEPTIONIST)
        hours = _day_hours(doctor)
        treatment = Treatment.objects.create(name="Rush", code="RUSH", duration_minutes=10)
        patients = [
            Patient.objects.create(
                mrn=f"RUSH{n:04d}",
                full_name=f"Rush Patient {n}",
                name_search=f"rush patient {n}",
                gender="other",
                date_of_birth=dt.date(1990, 1, 1),
            )
            for n in range(20)
        ]

    def remove() -> None:
        with schema_context(stmarys.schema):
            QueueEvent.objects.filter(entry__doctor=doctor).delete()
            QueueEntry.objects.filter(patient__in=patients).delete()
            QueueCounter.objects.filter(doctor=doctor).delete()
            Appointment.objects.filter(patient__in=patients).delete()
            for patient in patients:
                PatientUserObjectPermission.objects.filter(content_object=patient).delete()
                patient.delete()
            treatment.delete()
            for interval in hours:
                interval.delete()

    committed.cleanup(remove)
    barrier = threading.Barrier(20)
    tokens: list[str] = []
    errors: list[Exception] = []

    def issue(patient: Patient) -> None:
        try:
            with schema_context(stmarys.schema):
                connection.set_tenant(stmarys.hospital)
                barrier.wait()
                entry = queue_walk_in(patient=patient, doctor=doctor, treatment=treatment, actor=desk)
                tokens.append(entry.token)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(patient,)) for patient in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(tokens, key=lambda t: int(t[1:])) == [f"W{n}" for n in range(1, 21)]


def test_twenty_numbers_taken_at_once_from_one_counter_are_twenty(committed):
    """The counter alone, without the booking and audit around it (their locks would hide a racy
    counter): twenty transactions at once, each its own connection."""
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
    day = dt.date(2031, 1, 6)

    def remove() -> None:
        with schema_context(stmarys.schema):
            QueueCounter.objects.filter(doctor=doctor, day=day).delete()

    committed.cleanup(remove)
    barrier = threading.Barrier(20)
    numbers: list[int] = []
    errors: list[Exception] = []

    def take() -> None:
        try:
            with schema_context(stmarys.schema):
                connection.set_tenant(stmarys.hospital)
                barrier.wait()
                with transaction.atomic():
                    numbers.append(
                        _number_take(doctor=doctor, day=day, session_start=dt.time(9), kind="walk_in", start=1)
                    )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(numbers) == list(range(1, 21))
