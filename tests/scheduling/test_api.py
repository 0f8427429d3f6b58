"""The scheduling routes: doctors and slots for everyone signed in, booking and cancelling for
the desk, a doctor's own schedule."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.clinical.conftest import post
from tests.scheduling.conftest import at, next_weekday

pytestmark = pytest.mark.django_db


def test_patients_and_staff_see_the_doctors_and_their_free_slots(stmarys, clinic):
    day = next_weekday(2)
    patient_api = stmarys.api(stmarys.user(Role.PATIENT))

    doctors = patient_api.get("/api/doctors/").json()
    slots = patient_api.get(
        f"/api/doctors/{clinic['doctor'].pk}/slots/", {"date": day.isoformat(), "treatment": clinic["treatment"].pk}
    )

    assert clinic["doctor"].pk in [d["id"] for d in doctors]
    assert slots.status_code == 200
    assert slots.json()["slots"][0].startswith(f"{day.isoformat()}T09:00:00")
    assert len(slots.json()["slots"]) == 12


def test_the_desk_books_a_clash_is_409_and_a_cancelled_slot_is_free_again(stmarys, clinic):
    day = next_weekday(3)
    desk = stmarys.api(clinic["desk"])
    body = {
        "patient_id": str(clinic["first"].pk),
        "doctor_id": clinic["doctor"].pk,
        "treatment_id": clinic["treatment"].pk,
        "start": at(day, 9, 30).isoformat(),
    }

    booked = post(desk, "/api/appointments/", body)
    clash = post(desk, "/api/appointments/", {**body, "patient_id": str(clinic["second"].pk)})
    cancelled = post(desk, f"/api/appointments/{booked.json()['id']}/cancel/", {"reason": "Patient phoned"})
    again = post(desk, "/api/appointments/", {**body, "patient_id": str(clinic["second"].pk)})

    assert booked.status_code == 201, booked.content
    assert clash.status_code == 409
    assert clash.json()["taken_by"] == "doctor"
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 201


def test_bad_bookings_are_422_and_other_roles_403(stmarys, clinic):
    day = next_weekday(4)
    body = {
        "patient_id": str(clinic["first"].pk),
        "doctor_id": clinic["doctor"].pk,
        "treatment_id": clinic["treatment"].pk,
        "start": at(day, 14).isoformat(),
    }

    outside = post(stmarys.api(clinic["desk"]), "/api/appointments/", body)
    by_doctor = post(stmarys.api(clinic["doctor"]), "/api/appointments/", body)
    by_patient = post(stmarys.api(stmarys.user(Role.PATIENT)), "/api/appointments/", body)

    assert outside.status_code == 422
    assert outside.json()["detail"][0]["type"] == "outside_hours"
    assert (by_doctor.status_code, by_patient.status_code) == (403, 403)


def test_a_doctor_lists_only_their_own_schedule(stmarys, clinic, other_doctor):
    day = next_weekday(1)
    post(
        stmarys.api(clinic["desk"]),
        "/api/appointments/",
        {
            "patient_id": str(clinic["first"].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
            "start": at(day, 10).isoformat(),
        },
    )

    mine = (
        stmarys.api(clinic["doctor"])
        .get("/api/appointments/", {"date_from": day.isoformat(), "date_to": day.isoformat()})
        .json()
    )
    theirs = stmarys.api(other_doctor).get("/api/appointments/").json()

    assert mine["count"] == 1
    assert theirs["count"] == 0
