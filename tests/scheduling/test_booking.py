"""Booking against the database's rules: one doctor, one patient, one place at a time."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, Treatment
from core.errors import DomainError
from scheduling.models import Appointment, Leave, WorkingHours
from scheduling.services import Override, appointment_book, doctor_slots
from tests.scheduling.conftest import LONDON, at, next_weekday


@pytest.mark.django_db
def test_a_taken_slot_is_409_naming_the_doctor_and_an_overbooking_needs_a_reason(clinic):
    day = next_weekday(2)
    book = dict(doctor=clinic["doctor"], treatment=clinic["treatment"], booked_by=clinic["desk"])
    appointment_book(patient=clinic["first"], start=at(day, 9), **book)

    with pytest.raises(DomainError) as clash:
        appointment_book(patient=clinic["second"], start=at(day, 9), **book)
    overbooked = appointment_book(
        patient=clinic["second"],
        start=at(day, 9),
        override=Override(reason="Urgent, seen between", overbook=True),
        **book,
    )

    assert clash.value.kind == "conflict"
    assert clash.value.extra == {"taken_by": "doctor", "clash_start": "09:00"}
    assert overbooked.overbooked is True
    assert Appointment.objects.filter(start=at(day, 9)).count() == 2


@pytest.mark.django_db
def test_one_patient_cannot_be_in_two_rooms(clinic, stmarys, other_doctor):
    day = next_weekday(3)
    with schema_context(stmarys.schema):
        WorkingHours.objects.create(doctor=other_doctor, weekday=day.weekday(), starts=dt.time(8), ends=dt.time(12))
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )

    with pytest.raises(DomainError) as clash:
        appointment_book(
            patient=clinic["first"],
            doctor=other_doctor,
            treatment=clinic["treatment"],
            start=at(day, 10, 0),
            booked_by=clinic["desk"],
        )

    assert clash.value.extra["taken_by"] == "patient"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "code"),
    [
        (lambda day: at(day - dt.timedelta(days=30), 9), "in_the_past"),
        (lambda day: at(day, 14), "outside_hours"),
        (lambda day: at(day, 9, 7), "off_grid"),
    ],
)
def test_the_strict_rules_refuse_unless_staff_override_with_a_reason(clinic, start, code):
    day = next_weekday(4)
    book = dict(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        booked_by=clinic["desk"],
        start=start(day),
    )

    with pytest.raises(DomainError) as refused:
        appointment_book(**book)
    allowed = appointment_book(override=Override(reason="Back-entry after the outage"), **book)

    assert refused.value.code == code
    assert allowed.override_reason == "Back-entry after the outage"


@pytest.mark.django_db
def test_slots_leave_out_bookings_leave_and_a_full_day(clinic):
    day = next_weekday(1)
    slots = doctor_slots(doctor=clinic["doctor"], day=day, treatment=clinic["treatment"])
    assert len(slots) == 12
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 9),
        booked_by=clinic["desk"],
    )
    Leave.objects.create(doctor=clinic["doctor"], starts_at=at(day, 11), ends_at=at(day, 12))

    free = doctor_slots(doctor=clinic["doctor"], day=day, treatment=clinic["treatment"])

    assert [s.astimezone(LONDON).strftime("%H:%M") for s in free] == [
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
    ]


@pytest.mark.django_db
def test_slots_across_the_clock_change_keep_the_wall_clock_hours(clinic):
    # The last Sunday of March: clocks go forward at 01:00 GMT.
    year = timezone.localdate().year + 1
    sunday = max(dt.date(year, 3, d) for d in range(25, 32) if dt.date(year, 3, d).weekday() == 6)

    slots = doctor_slots(doctor=clinic["doctor"], day=sunday, treatment=clinic["treatment"])

    local = [s.astimezone(LONDON) for s in slots]
    assert local[0].strftime("%H:%M") == "09:00"
    assert local[0].utcoffset() == dt.timedelta(hours=1)
    assert len(local) == 12


def test_fifty_desks_booking_one_slot_get_one_booking(committed):
    stmarys = committed.branch("stmarys")
    day = next_weekday(5, after=timezone.localdate() + dt.timedelta(days=7))
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        hours = WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(10))
        treatment = Treatment.objects.create(name="Race consultation", code="RACE", duration_minutes=15)
        patients = [
            Patient.objects.create(
                mrn=f"RACE{i:04d}",
                full_name=f"Racer {i}",
                name_search=f"racer {i}",
                gender="other",
                date_of_birth=dt.date(1980, 1, 1),
            )
            for i in range(50)
        ]
    results: list[str] = []
    barrier = threading.Barrier(50)

    def book(patient: Patient) -> None:
        with schema_context(stmarys.schema):
            connection.set_tenant(stmarys.hospital)
            barrier.wait()
            try:
                appointment_book(
                    patient=patient,
                    doctor=doctor,
                    treatment=treatment,
                    start=at(day, 9),
                    booked_by=stmarys.user(Role.RECEPTIONIST),
                )
                results.append("booked")
            except DomainError as exc:
                results.append(exc.kind)
        connection.close()

    def remove() -> None:
        with schema_context(stmarys.schema):
            Appointment.objects.filter(treatment=treatment).delete()
            Patient.objects.filter(pk__in=[p.pk for p in patients]).delete()
            treatment.delete()
            hours.delete()

    committed.cleanup(remove)
    threads = [threading.Thread(target=book, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results).count("booked") == 1
    assert results.count("conflict") == 49
    with schema_context(stmarys.schema):
        assert Appointment.objects.filter(treatment=treatment, status="booked").count() == 1


@pytest.mark.django_db
def test_a_booking_assigns_the_doctor_and_shows_on_the_profile(clinic, stmarys):
    day = next_weekday(0)
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )

    profile = stmarys.api(clinic["doctor"]).get(f"/api/patients/{clinic['first'].pk}/")
    page = stmarys.client(clinic["desk"]).get(f"/patients/{clinic['first'].pk}/?tab=appointments")

    assert profile.status_code == 200  # the booking assigned the doctor
    assert [a["treatment"] for a in profile.json()["recent_appointments"]] == ["Consultation"]
    assert "Consultation" in page.content.decode()


@pytest.mark.django_db
def test_a_clash_is_named_from_the_databases_own_error_without_another_query(clinic):
    from django.test.utils import CaptureQueriesContext

    day = next_weekday(2)
    book = dict(doctor=clinic["doctor"], treatment=clinic["treatment"], booked_by=clinic["desk"])
    appointment_book(patient=clinic["first"], start=at(day, 9, 30), **book)

    with CaptureQueriesContext(connection) as queries, pytest.raises(DomainError) as clash:
        appointment_book(patient=clinic["second"], start=at(day, 9, 30), **book)

    after_insert = [q["sql"] for q in queries.captured_queries]
    after_insert = after_insert[next(i for i, sql in enumerate(after_insert) if sql.startswith("INSERT")) + 1 :]
    assert clash.value.extra["clash_start"] == "09:30"
    assert not [sql for sql in after_insert if "scheduling_appointment" in sql]
