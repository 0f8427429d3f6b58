"""The clinical profile and search, now that visits are booked: the appointment history a page
at a time, and the search's doctor and visit-date filters answered from real appointments."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduling.services import Override, appointment_book, appointment_cancel
from tests.scheduling.conftest import at, next_weekday

pytestmark = pytest.mark.django_db


def test_the_profile_pages_through_the_appointment_history(stmarys, clinic):
    first_day = next_weekday(0)
    for week in range(12):
        appointment_book(
            patient=clinic["first"],
            doctor=clinic["doctor"],
            treatment=clinic["treatment"],
            start=at(first_day + dt.timedelta(weeks=week), 9),
            booked_by=clinic["desk"],
        )
    desk = stmarys.client(clinic["desk"])

    first = desk.get(f"/patients/{clinic['first'].pk}/?tab=appointments").content.decode()
    second = desk.get(f"/patients/{clinic['first'].pk}/?appointments_page=2").content.decode()

    newest = (first_day + dt.timedelta(weeks=11)).strftime("%-d %b %Y")
    oldest = first_day.strftime("%-d %b %Y")
    assert first.count("data-appointment=") == 10
    assert newest in first
    assert oldest not in first
    assert second.count("data-appointment=") == 2
    assert oldest in second
    assert "Page 2 of 2" in second
    assert 'id="pane-appointments" role="tabpanel"' in second
    assert 'class="tab-pane active" id="pane-appointments"' in second


def test_search_filters_by_doctor_and_visit_day_from_appointments(stmarys, clinic, other_doctor):
    day = next_weekday(2)
    from scheduling.models import WorkingHours

    WorkingHours.objects.create(doctor=other_doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12))
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 9),
        booked_by=clinic["desk"],
    )
    cancelled = appointment_book(
        patient=clinic["second"],
        doctor=other_doctor,
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )
    appointment_cancel(appointment=cancelled, cancelled_by=clinic["desk"], reason="Changed plans")
    appointment_book(
        patient=clinic["second"],
        doctor=other_doctor,
        treatment=clinic["treatment"],
        start=at(day - dt.timedelta(days=30), 9),
        booked_by=clinic["desk"],
        override=Override(reason="Back-entry after the outage"),
    )
    api = stmarys.api(clinic["desk"])

    def names(**query) -> list[str]:
        return [p["full_name"] for p in api.get("/api/patients/", query).json()["items"]]

    assert names(doctor=clinic["doctor"].pk) == ["First Patient"]
    assert names(doctor=other_doctor.pk) == ["Second Patient"]
    # The cancelled visit is no visit.
    assert names(date_from=day.isoformat(), date_to=day.isoformat()) == ["First Patient"]
    assert names(doctor=other_doctor.pk, date_from=day.isoformat()) == []
