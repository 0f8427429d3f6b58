"""The edges of scheduling: clock changes, bad input on the pages and the API, half-done saves,
two desks at once, and keys of two branches."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, Treatment, TreatmentRecord
from core.branch import branch_today
from scheduling.models import Appointment, DoctorProfile, WorkingHours
from scheduling.services import Override, appointment_book, doctor_slots
from tests.clinical.conftest import register
from tests.scheduling.conftest import LONDON, at, next_weekday

pytestmark = pytest.mark.django_db


def _last_sunday(year: int, month: int) -> dt.date:
    return max(dt.date(year, month, d) for d in range(25, 32) if dt.date(year, month, d).weekday() == 6)


def test_a_night_across_the_autumn_clock_change_has_its_extra_hour(clinic):
    sunday = _last_sunday(branch_today().year + 1, 10)
    WorkingHours.objects.filter(doctor=clinic["doctor"], weekday=6).update(starts=dt.time(0), ends=dt.time(4))

    slots = doctor_slots(doctor=clinic["doctor"], day=sunday, treatment=clinic["treatment"])
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=dt.datetime.combine(sunday, dt.time(1, 50), tzinfo=LONDON),
        booked_by=clinic["desk"],
        override=Override(reason="Seen at night"),
    )

    labels = [s.astimezone(LONDON).strftime("%H:%M") for s in slots]
    assert len(slots) == 20  # four wall-clock hours that last five
    assert labels.count("01:15") == 2  # once in summer time, once in winter time
    assert len(set(slots)) == len(slots)
    assert visit.end - visit.start == dt.timedelta(minutes=15)


def test_a_night_across_the_spring_clock_change_loses_an_hour_and_nothing_breaks(clinic):
    sunday = _last_sunday(branch_today().year + 1, 3)
    WorkingHours.objects.filter(doctor=clinic["doctor"], weekday=6).update(starts=dt.time(0), ends=dt.time(4))

    slots = doctor_slots(doctor=clinic["doctor"], day=sunday, treatment=clinic["treatment"])
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=dt.datetime.combine(sunday, dt.time(0, 50), tzinfo=LONDON),
        booked_by=clinic["desk"],
        override=Override(reason="Seen at night"),
    )

    assert len(slots) == 12  # four wall-clock hours that last three
    assert len(set(slots)) == len(slots)
    assert visit.end - visit.start == dt.timedelta(minutes=15)


@pytest.mark.parametrize(
    "path",
    [
        "/schedule/?doctor=\u00b2",
        "/schedule/print/?doctor=\u00b2",
        "/appointments/book/?treatment=\u00b3&doctor=\u0663",
        "/schedule/?date=99999-01-01",
    ],
)
def test_odd_query_strings_are_no_500(stmarys, clinic, path):
    assert stmarys.client(clinic["desk"]).get(path).status_code == 200


def test_an_odd_page_number_on_the_profile_is_the_first_page(stmarys, clinic):
    response = stmarys.client(clinic["desk"]).get(f"/patients/{clinic['first'].pk}/?appointments_page=\u00b2")

    assert response.status_code == 200


@pytest.mark.parametrize("start", ["9999-12-31T23:59:00Z", "0001-01-01T00:00:00+14:00", "2090-01-01T09:00:00Z"])
def test_a_start_years_away_is_422(stmarys, clinic, start):
    body = {
        "patient_id": str(clinic["first"].pk),
        "doctor_id": clinic["doctor"].pk,
        "treatment_id": clinic["treatment"].pk,
        "start": start,
        "override_reason": "Back-entry after the outage",
    }
    response = stmarys.api(clinic["desk"]).post("/api/appointments/", json.dumps(body), content_type="application/json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "start"]
    assert not Appointment.objects.exists()


def test_the_booking_page_books_only_what_it_was_sent(stmarys, clinic, other_doctor):
    day = next_weekday(1)
    other_doctor.is_active = False
    other_doctor.save()
    desk = stmarys.client(clinic["desk"])
    form = {
        "patient": clinic["first"].pk,
        "treatment": clinic["treatment"].pk,
        "date": day.isoformat(),
        "slot": at(day, 9).isoformat(),
    }

    inactive = desk.post("/appointments/book/", {**form, "doctor": other_doctor.pk})
    unknown_treatment = desk.post("/appointments/book/", {**form, "doctor": clinic["doctor"].pk, "treatment": 99999})
    nul = desk.post("/appointments/book/", {**form, "doctor": clinic["doctor"].pk, "override_reason": "Late\x00 again"})

    assert inactive.status_code == 422
    assert unknown_treatment.status_code == 422
    assert nul.status_code == 422
    assert not Appointment.objects.exists()


def test_a_refused_week_leaves_the_profile_as_it_was(stmarys, clinic):
    DoctorProfile.objects.create(user=clinic["doctor"], specialty="General practice")
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))

    refused = admin.post(
        f"/doctors/{clinic['doctor'].pk}/", {"specialty": "Cardiology", "day_0": "09:00-12:00, 11:00-13:00"}
    )

    assert refused.status_code == 422
    assert DoctorProfile.objects.get(user=clinic["doctor"]).specialty == "General practice"
    assert WorkingHours.objects.filter(doctor=clinic["doctor"]).count() == 7  # the week of the fixture


def test_a_follow_up_booked_meanwhile_by_another_desk_is_409_on_the_form(stmarys, clinic):
    day = next_weekday(2)
    record = TreatmentRecord.objects.create(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        visit_at=at(branch_today(), 9) - dt.timedelta(days=7),
        lineage=uuid.uuid4(),
        follow_up_on=day,
    )
    form = {
        "follow_up": record.pk,
        "doctor": clinic["doctor"].pk,
        "treatment": clinic["treatment"].pk,
        "date": day.isoformat(),
    }
    desk = stmarys.client(clinic["desk"])

    first = desk.post("/appointments/book/", {**form, "slot": at(day, 9).isoformat()})
    second = desk.post("/appointments/book/", {**form, "slot": at(day, 10).isoformat()})

    assert first.status_code == 302
    assert second.status_code == 409
    assert "booked or settled already" in second.content.decode()
    assert Appointment.objects.filter(patient=clinic["first"]).count() == 1


def test_two_visits_in_a_leave_are_not_offered_the_same_first_time(stmarys, clinic):
    day = next_weekday(0)
    first = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 9),
        booked_by=clinic["desk"],
    )
    second = appointment_book(
        patient=clinic["second"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 9, 15),
        booked_by=clinic["desk"],
    )
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))
    added = admin.post(
        f"/doctors/{clinic['doctor'].pk}/leave/",
        {"starts_at": f"{day}T09:00", "ends_at": f"{day}T12:00", "reason": "Course"},
    )

    page = admin.get(added["Location"]).content.decode()
    rows = {visit: page.split(f'data-appointment="{visit}"')[1].split("</tr>")[0] for visit in (first.pk, second.pk)}
    offers = {visit: re.findall(r'<option value="([^"]+T[^"]+)"', row) for visit, row in rows.items()}
    settled = admin.post(
        added["Location"], {f"decision_{first.pk}": offers[first.pk][0], f"decision_{second.pk}": offers[second.pk][0]}
    )

    assert offers[first.pk][0] != offers[second.pk][0]
    assert settled.status_code == 302


def test_an_idempotency_key_of_one_branch_does_not_hold_up_another(stmarys, riverside, clinic):
    """User ids repeat in every branch; advisory locks are the whole database's."""
    with schema_context(riverside.schema):
        connection.set_tenant(riverside.hospital)
        doctor = riverside.user(Role.DOCTOR)
        day = next_weekday(3)
        WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12))
        treatment = Treatment.objects.create(name="Consultation", code="CONS", duration_minutes=15)
    patient = register(riverside, full_name="River Patient", date_of_birth="1990-01-01")
    desk = riverside.user(Role.RECEPTIONIST)
    assert desk.pk == clinic["desk"].pk  # the same id in both branches: the point of this test
    with schema_context(riverside.schema):
        Patient.objects.get(pk=patient["id"])
    db = settings.DATABASES["default"]
    holder = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)
    try:
        # The St Mary's desk's request with this key, still in flight.
        holder.execute("SELECT pg_advisory_lock(7313, hashtext(%s))", [f"{stmarys.schema}:{desk.pk}:shared"])
        body = {
            "patient_id": patient["id"],
            "doctor_id": doctor.pk,
            "treatment_id": treatment.pk,
            "start": dt.datetime.combine(
                day, dt.time(9), tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
            ).isoformat(),
        }
        at_riverside = riverside.api(desk).post(
            "/api/appointments/",
            json.dumps(body),
            content_type="application/json",
            headers={"Idempotency-Key": "shared"},
        )
        mine = {
            "patient_id": str(clinic["first"].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
            "start": at(next_weekday(3), 9).isoformat(),
        }
        at_stmarys = stmarys.api(clinic["desk"]).post(
            "/api/appointments/",
            json.dumps(mine),
            content_type="application/json",
            headers={"Idempotency-Key": "shared"},
        )
    finally:
        holder.close()

    assert at_riverside.status_code == 201, at_riverside.content
    assert at_stmarys.status_code == 409  # where the key is held, it is in flight
    assert at_stmarys.json()["code"] == "idempotency_in_flight"
