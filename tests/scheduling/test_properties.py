"""Any sequence of bookings, cancellations and moves, by the desk with or without an override,
leaves the diary possible: no doctor in two non-overbooked visits at once, no patient in two
visits at once. The database says so, not the services; a refusal changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import Role, User
from accounts.services import user_role_group_set
from clinical.models import Patient, Treatment
from core.errors import DomainError
from scheduling.models import Appointment, WorkingHours
from scheduling.services import Override, appointment_book, appointment_cancel, appointment_reschedule
from tests.clinical.conftest import register
from tests.scheduling.conftest import LONDON, at, next_weekday

pytestmark = pytest.mark.django_db

# Few doctors, patients and times, so that most operations meet another booking; some times are
# off a grid, outside someone's hours or in the past, so that the strict rules refuse too.
DOCTORS = ["morning", "short_day", "split_day"]
PATIENTS = ["first", "second", "third"]
TREATMENTS = ["consultation", "review"]
# Repeated entries are drawn more often: most operations aim at a few good times of one day.
DAYS = [*["monday"] * 6, "tuesday", "two_weeks_ago"]
GOOD_TIMES = ["09:00", "09:15", "09:30", "10:00", "10:30"]
TIMES = [*GOOD_TIMES * 4, "08:45", "09:10", "09:45", "10:45", "11:30", "11:45"]
OVERRIDES = {
    "none": None,
    "reason": Override(reason="Back-entry after the outage"),
    "overbook": Override(reason="Urgent, seen between", overbook=True),
    "too_short": Override(reason="ok"),
}


@dataclass(frozen=True)
class Book:
    patient: str
    doctor: str
    treatment: str
    day: str
    time: str
    override: str


@dataclass(frozen=True)
class Cancel:
    target: int  # see target_of()


@dataclass(frozen=True)
class Reschedule:
    target: int
    day: str
    time: str
    doctor: str | None  # None: stay with the same doctor
    override: str


overrides = st.sampled_from(["none", "none", "reason", "reason", "overbook", "too_short"])
books = st.builds(
    Book,
    patient=st.sampled_from(PATIENTS),
    doctor=st.sampled_from(DOCTORS),
    treatment=st.sampled_from(TREATMENTS),
    day=st.sampled_from(DAYS),
    time=st.sampled_from(TIMES),
    override=overrides,
)
moves = st.builds(
    Reschedule,
    target=st.integers(0, 7),
    day=st.sampled_from(DAYS),
    time=st.sampled_from(TIMES),
    doctor=st.none() | st.sampled_from(DOCTORS),
    override=overrides,
)
cancels = st.builds(Cancel, target=st.integers(0, 7))
# About half the operations book, a third move and the rest cancel.
operations = st.sampled_from([books] * 4 + [moves] * 3 + [cancels]).flatmap(lambda kind: kind)


@dataclass
class Diary:
    doctors: dict[str, User]
    patients: dict[str, Patient]
    treatments: dict[str, Treatment]
    days: dict[str, dt.date]
    desk: User

    def start(self, day: str, time: str) -> dt.datetime:
        hour, minute = map(int, time.split(":"))
        return at(self.days[day], hour, minute)


@pytest.fixture
def diary(clinic, stmarys, other_doctor):
    """Three doctors (09:00-12:00, 09:00-11:00, 09:00-10:00 and 10:30-12:00 every day), three
    patients, a 15- and a 30-minute treatment."""
    third = register(stmarys, full_name="Third Patient", date_of_birth="1972-01-01")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        split_day = User.objects.create_user(
            username="split-day@stmarys.test", email="split-day@stmarys.test", role=Role.DOCTOR, full_name="Dr Split"
        )
        user_role_group_set(user=split_day, role=Role.DOCTOR)
        for weekday in range(7):
            WorkingHours.objects.create(doctor=other_doctor, weekday=weekday, starts=dt.time(9), ends=dt.time(11))
            WorkingHours.objects.create(doctor=split_day, weekday=weekday, starts=dt.time(9), ends=dt.time(10))
            WorkingHours.objects.create(doctor=split_day, weekday=weekday, starts=dt.time(10, 30), ends=dt.time(12))
        review = Treatment.objects.create(name="Review", code="REV", duration_minutes=30)
        monday = next_weekday(0)
        yield Diary(
            doctors={"morning": clinic["doctor"], "short_day": other_doctor, "split_day": split_day},
            patients={
                "first": clinic["first"],
                "second": clinic["second"],
                "third": Patient.objects.get(pk=third["id"]),
            },
            treatments={"consultation": clinic["treatment"], "review": review},
            days={
                "monday": monday,
                "tuesday": monday + dt.timedelta(days=1),
                "two_weeks_ago": monday - dt.timedelta(days=14),
            },
            desk=clinic["desk"],
        )


def snapshot() -> dict[UUID, tuple]:
    """Every appointment's place and state: (start, end, doctor, status, overbooked) by id."""
    return {
        pk: tuple(rest)
        for pk, *rest in Appointment.objects.values_list("id", "start", "end", "doctor_id", "status", "overbooked")
    }


def overlaps(*, by: str, ignore_overbooked: bool) -> list[tuple]:
    """Pairs of active appointments of one doctor (or one patient) whose times overlap, read
    straight from the table."""
    table = Appointment._meta.db_table
    condition = "AND NOT a.overbooked AND NOT b.overbooked" if ignore_overbooked else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id, b.id FROM {table} a JOIN {table} b
              ON a.{by} = b.{by} AND a.id < b.id
             AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
            WHERE a.status IN ('booked', 'checked_in') AND b.status IN ('booked', 'checked_in') {condition}
            """
        )
        return cursor.fetchall()


def target_of(operation: Cancel | Reschedule, made: list[UUID]) -> UUID:
    """The appointment a cancellation or a move is about: the ``target``-th (modulo) of those the
    example made that are still booked, or of all it made once none is (then it is refused)."""
    booked = set(Appointment.objects.filter(pk__in=made, status=Appointment.Status.BOOKED).values_list("pk", flat=True))
    pool = [pk for pk in made if pk in booked] or made
    return pool[operation.target % len(pool)]


def perform(diary: Diary, operation: Book | Cancel | Reschedule, target: UUID | None) -> Appointment:
    """Run one operation through the services; returns the appointment it made or changed."""
    if isinstance(operation, Book):
        return appointment_book(
            patient=diary.patients[operation.patient],
            doctor=diary.doctors[operation.doctor],
            treatment=diary.treatments[operation.treatment],
            start=diary.start(operation.day, operation.time),
            booked_by=diary.desk,
            override=OVERRIDES[operation.override],
        )
    appointment = Appointment.objects.get(pk=target)
    if isinstance(operation, Cancel):
        return appointment_cancel(appointment=appointment, cancelled_by=diary.desk, reason="Changed plans")
    return appointment_reschedule(
        appointment=appointment,
        start=diary.start(operation.day, operation.time),
        doctor=diary.doctors[operation.doctor] if operation.doctor else None,
        moved_by=diary.desk,
        override=OVERRIDES[operation.override],
    )


def expected_row(diary: Diary, operation: Book | Cancel | Reschedule, before: tuple | None) -> tuple:
    """What the row of a successful operation must hold; ``before`` is the row it changed."""
    if isinstance(operation, Cancel):
        return (*before[:3], Appointment.Status.CANCELLED, before[4])
    start = diary.start(operation.day, operation.time)
    if isinstance(operation, Book):
        doctor = diary.doctors[operation.doctor].pk
        length = dt.timedelta(minutes=diary.treatments[operation.treatment].duration_minutes)
    else:
        doctor = diary.doctors[operation.doctor].pk if operation.doctor else before[2]
        length = before[1] - before[0]
    override = OVERRIDES[operation.override]
    return (start, start + length, doctor, Appointment.Status.BOOKED, bool(override and override.overbook))


def in_the_way(diary: Diary, operation: Book | Reschedule, target: UUID | None, refused: DomainError) -> set[str]:
    """The local start times of the active visits that a refused booking or move ran into: the
    ones its 409 may name (never the visit being moved)."""
    start = diary.start(operation.day, operation.time)
    if isinstance(operation, Book):
        patient = diary.patients[operation.patient]
        doctor = diary.doctors[operation.doctor]
        length = dt.timedelta(minutes=diary.treatments[operation.treatment].duration_minutes)
    else:
        moved = Appointment.objects.get(pk=target)
        patient, length = moved.patient, moved.end - moved.start
        doctor = diary.doctors[operation.doctor] if operation.doctor else moved.doctor
    others = Appointment.objects.filter(status__in=Appointment.ACTIVE, start__lt=start + length, end__gt=start)
    if refused.code == "doctor_taken":
        others = others.filter(doctor=doctor, overbooked=False)
    else:
        others = others.filter(patient=patient)
    return {a.start.astimezone(LONDON).strftime("%H:%M") for a in others.exclude(pk=target)}


# At least eight steps, so that the diary fills up and clashes are common; a shrunk counterexample
# may start with refused copies of the simplest booking, which are only filler.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(operations, min_size=8, max_size=24))
def test_no_sequence_of_bookings_double_books_a_doctor_or_a_patient(diary, steps):
    # Every example starts from the same empty diary: what it books is rolled back at its end.
    with transaction.atomic():
        made: list[UUID] = []
        for operation in steps:
            if not isinstance(operation, Book) and not made:
                continue
            target = None if isinstance(operation, Book) else target_of(operation, made)
            before = snapshot()
            try:
                changed, refused = perform(diary, operation, target), None
            except DomainError as exc:
                changed, refused = None, exc
            after = snapshot()
            event(f"{type(operation).__name__}: {refused.code if refused else 'done'}")

            if refused is not None:
                assert refused.kind in ("conflict", "invalid"), (operation, refused.kind, refused.message)
                if isinstance(operation, Reschedule):
                    assert after[target] == before[target], ("a refused move did not keep its place", operation)
                assert after == before, ("a refusal changed the diary", operation, refused.code)
                if refused.code in ("doctor_taken", "patient_taken"):
                    clash = refused.extra["clash_start"]
                    assert clash in in_the_way(diary, operation, target, refused), ("the 409 names no clash", operation)
            else:
                assert changed.pk == target or (target is None and changed.pk not in before), operation
                old = before.pop(changed.pk, None)
                assert after.pop(changed.pk) == expected_row(diary, operation, old), operation
                assert after == before, ("another appointment changed", operation)
                if isinstance(operation, Book):
                    made.append(changed.pk)

            assert overlaps(by="doctor_id", ignore_overbooked=True) == [], ("doctor double-booked", operation)
            assert overlaps(by="patient_id", ignore_overbooked=False) == [], ("patient in two places", operation)
        transaction.set_rollback(True)
