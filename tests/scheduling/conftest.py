"""Scheduling fixtures: a doctor's week, a treatment, two patients."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, Treatment
from scheduling.models import WorkingHours
from tests.clinical.conftest import other_doctor, register  # noqa: F401 - other_doctor is a fixture

LONDON = ZoneInfo("Europe/London")


def next_weekday(weekday: int, *, after: dt.date | None = None) -> dt.date:
    day = (after or timezone.localdate()) + dt.timedelta(days=1)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def clinic(stmarys):
    """A doctor working 09:00-12:00 every day, a 15-minute consultation, two patients."""
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        for weekday in range(7):
            WorkingHours.objects.create(doctor=doctor, weekday=weekday, starts=dt.time(9), ends=dt.time(12))
        treatment = Treatment.objects.create(name="Consultation", code="CONS", duration_minutes=15)
    first = register(stmarys, full_name="First Patient", date_of_birth="1970-01-01")
    second = register(stmarys, full_name="Second Patient", date_of_birth="1971-01-01")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        yield {
            "doctor": doctor,
            "desk": stmarys.user(Role.RECEPTIONIST),
            "treatment": treatment,
            "first": Patient.objects.get(pk=first["id"]),
            "second": Patient.objects.get(pk=second["id"]),
        }


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)
