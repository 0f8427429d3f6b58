"""Booking and cancelling in the portal: a linked patient only, the desk's strict rules with no
overrides, its conflicts and idempotency, the branch's cancellation cut-off, an hourly brake."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import AuditEvent
from clinical.services import doctor_attends
from portal.models import PatientLink
from portal.services import PORTAL_CHANGES_PER_HOUR, portal_link
from scheduling.models import Appointment
from scheduling.services import appointment_book, appointment_check_in
from tenants.models import Hospital
from tests.scheduling.conftest import at, next_weekday, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(clinic, stmarys):
    """A parent's account linked to their child (the clinic's first patient); the second patient
    is someone else's."""
    with schema_context(stmarys.schema):
        account = User.objects.create_user(username="family@example.org", role=Role.PATIENT, password="f" * 20)
        portal_link(account=account, patient=clinic["first"], relationship="parent", linked_by=clinic["desk"])
    return {**clinic, "account": account, "app": stmarys.api(account)}


def _book(app, patient, doctor, treatment, start, **more):
    body = {
        "patient": str(patient.pk if hasattr(patient, "pk") else patient),
        "doctor_id": doctor.pk,
        "treatment_id": treatment.pk,
        "start": start.isoformat(),
        **more,
    }
    headers = {"HTTP_IDEMPOTENCY_KEY": more.pop("key")} if "key" in more else {}
    body.pop("key", None)
    return app.post("/api/portal/appointments/", body, content_type="application/json", **headers)


def _visits(branch) -> list[tuple]:
    with schema_context(branch.schema):
        return list(Appointment.objects.order_by("start").values_list("patient_id", "start", "status"))


def test_a_parent_finds_a_free_slot_and_books_it_for_their_child(family, stmarys):
    app, doctor, treatment = family["app"], family["doctor"], family["treatment"]
    day = next_weekday(2)

    doctors = app.get("/api/doctors/")
    treatments = app.get("/api/treatments/")
    slots = app.get(f"/api/doctors/{doctor.pk}/slots/", {"date": day.isoformat(), "treatment": treatment.pk})
    first_free = dt.datetime.fromisoformat(slots.json()["slots"][0])
    booked = _book(app, family["first"], doctor, treatment, first_free)
    after = app.get(f"/api/doctors/{doctor.pk}/slots/", {"date": day.isoformat(), "treatment": treatment.pk})
    upcoming = app.get("/api/portal/appointments/", {"patient": family["first"].pk, "upcoming": "true"})

    assert doctors.status_code == treatments.status_code == slots.status_code == 200
    assert doctor.pk in [d["id"] for d in doctors.json()]
    assert first_free == at(day, 9)
    assert booked.status_code == 201, booked.content
    visit = booked.json()
    assert visit["status"] == "booked"
    assert dt.datetime.fromisoformat(visit["start"]) == at(day, 9)
    assert "T09:00:00" in visit["start"]  # the branch's wall-clock time, with its offset
    assert visit["doctor"]["id"] == doctor.pk
    assert visit["treatment"]["name"] == "Consultation"
    assert dt.datetime.fromisoformat(visit["cancellable_until"]) == at(day, 9) - dt.timedelta(hours=24)
    assert at(day, 9).isoformat() not in [dt.datetime.fromisoformat(s).isoformat() for s in after.json()["slots"]]
    assert [v["id"] for v in upcoming.json()["items"]] == [visit["id"]]
    with schema_context(stmarys.schema):
        event = AuditEvent.objects.get(action=AuditEvent.Action.BOOK)
        assert (event.actor_id, event.actor_role, str(event.patient_id)) == (
            family["account"].pk,
            Role.PATIENT,
            str(family["first"].pk),
        )
        assert doctor_attends(doctor, family["first"])  # the doctor may open the record for the visit


def test_no_booking_for_a_record_not_linked_here_or_in_another_branch(family, stmarys, riverside):
    app, doctor, treatment = family["app"], family["doctor"], family["treatment"]
    elsewhere = register(riverside, full_name="Elsewhere Person", date_of_birth="1980-01-01")
    start = at(next_weekday(2), 10)

    for patient in (family["second"].pk, elsewhere["id"], "00000000-0000-0000-0000-000000000000"):
        refused = _book(app, patient, doctor, treatment, start)
        assert refused.status_code == 404, patient
        assert refused.json()["code"] == "not_found"
    assert _visits(stmarys) == []


@pytest.mark.parametrize(
    ("change", "status", "where", "code"),
    [
        ({"overbook": True}, 422, ["body", "overbook"], None),  # no overrides in the portal
        ({"override_reason": "I am in a hurry"}, 422, ["body", "override_reason"], None),
        ({"start": "10:07"}, 422, ["body", "start"], "off_grid"),
        ({"start": "13:00"}, 422, ["body", "start"], "outside_hours"),
        ({"start": "yesterday"}, 422, ["body", "start"], "in_the_past"),
        ({"start": "naive"}, 422, ["body", "start"], "invalid"),
        ({"doctor_id": "desk"}, 422, ["body", "doctor_id"], "invalid"),
        ({"treatment_id": 999_999}, 422, ["body", "treatment_id"], "invalid"),
    ],
)
def test_the_strict_rules_hold_and_a_refusal_books_nothing(family, stmarys, change, status, where, code):
    app, day = family["app"], next_weekday(2)
    body = {
        "patient": str(family["first"].pk),
        "doctor_id": family["doctor"].pk,
        "treatment_id": family["treatment"].pk,
        "start": at(day, 10).isoformat(),
        **change,
    }
    if "start" in change:
        body["start"] = {
            "10:07": at(day, 10, 7).isoformat(),
            "13:00": at(day, 13).isoformat(),
            "yesterday": at(timezone.localdate() - dt.timedelta(days=1), 10).isoformat(),
            "naive": dt.datetime.combine(day, dt.time(10)).isoformat(),
        }[change["start"]]
    if change.get("doctor_id") == "desk":
        body["doctor_id"] = family["desk"].pk

    refused = app.post("/api/portal/appointments/", body, content_type="application/json")

    assert refused.status_code == status, refused.content
    [error] = refused.json()["detail"]
    assert error["loc"] == where
    if code:
        assert error["type"] == code
    assert _visits(stmarys) == []


def test_a_taken_slot_is_409_and_a_retry_with_the_same_key_books_once(family, stmarys):
    app, doctor, treatment = family["app"], family["doctor"], family["treatment"]
    day = next_weekday(3)
    appointment_book(
        patient=family["second"], doctor=doctor, treatment=treatment, start=at(day, 9), booked_by=family["desk"]
    )

    taken = _book(app, family["first"], doctor, treatment, at(day, 9))
    first = _book(app, family["first"], doctor, treatment, at(day, 9, 15), key="phone-retry-1")
    again = _book(app, family["first"], doctor, treatment, at(day, 9, 15), key="phone-retry-1")
    other_body = _book(app, family["first"], doctor, treatment, at(day, 9, 30), key="phone-retry-1")
    same_time_again = _book(app, family["first"], doctor, treatment, at(day, 9, 15))

    assert taken.status_code == 409
    assert (taken.json()["code"], taken.json()["clash_start"]) == ("doctor_taken", "09:00")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.json()["detail"][0]["type"] == "idempotency_key_reused"
    assert same_time_again.status_code == 409
    assert same_time_again.json()["code"] == "doctor_taken"
    mine = [v for v in _visits(stmarys) if v[0] == family["first"].pk]
    assert mine == [(family["first"].pk, at(day, 9, 15), "booked")]


def test_a_visit_is_cancelled_up_to_the_cut_off_and_refused_after_it(family, stmarys):
    app = family["app"]
    now = timezone.now()
    soon = Appointment.objects.create(
        patient=family["first"],
        doctor=family["doctor"],
        treatment=family["treatment"],
        start=now + dt.timedelta(hours=23),
        end=now + dt.timedelta(hours=23, minutes=15),
    )
    later = Appointment.objects.create(
        patient=family["first"],
        doctor=family["doctor"],
        treatment=family["treatment"],
        start=now + dt.timedelta(hours=25),
        end=now + dt.timedelta(hours=25, minutes=15),
    )

    too_late = app.post(f"/api/portal/appointments/{soon.pk}/cancel/", {}, content_type="application/json")
    in_time = app.post(
        f"/api/portal/appointments/{later.pk}/cancel/", {"reason": "Feeling better"}, content_type="application/json"
    )
    twice = app.post(f"/api/portal/appointments/{later.pk}/cancel/", {}, content_type="application/json")

    assert too_late.status_code == 422
    [error] = too_late.json()["detail"]
    assert error["loc"] == ["path", "appointment_id"]
    assert error["type"] == "past_cancel_cut_off"
    assert "24 hours" in error["msg"]
    assert in_time.status_code == 200
    assert in_time.json()["status"] == "cancelled"
    assert in_time.json()["cancellable_until"] is None
    assert twice.status_code == 409
    assert twice.json()["detail"] == "Only a booked visit can be cancelled here. This one is cancelled."
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.status == "booked"
    assert (later.status, later.cancel_reason, later.cancelled_by_id) == (
        "cancelled",
        "Feeling better",
        family["account"].pk,
    )

    # the branch moves its cut-off to 0: until the visit starts
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(portal_cancel_hours=0)
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    now_allowed = app.post(f"/api/portal/appointments/{soon.pk}/cancel/", {}, content_type="application/json")
    assert now_allowed.status_code == 200
    assert now_allowed.json()["status"] == "cancelled"


def test_a_checked_in_visit_and_anyone_elses_are_not_cancelled_here(ten_oclock, family, stmarys, riverside):
    app = family["app"]
    today_soon = timezone.now() + dt.timedelta(minutes=5)
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(portal_cancel_hours=0)
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    arrived = Appointment.objects.create(
        patient=family["first"],
        doctor=family["doctor"],
        treatment=family["treatment"],
        start=today_soon,
        end=today_soon + dt.timedelta(minutes=15),
    )
    appointment_check_in(appointment=arrived, actor=family["desk"])
    theirs = Appointment.objects.create(
        patient=family["second"],
        doctor=family["doctor"],
        treatment=family["treatment"],
        start=today_soon + dt.timedelta(days=3),
        end=today_soon + dt.timedelta(days=3, minutes=15),
    )

    checked_in = app.post(f"/api/portal/appointments/{arrived.pk}/cancel/", {}, content_type="application/json")
    not_linked = app.post(f"/api/portal/appointments/{theirs.pk}/cancel/", {}, content_type="application/json")
    probe = riverside.api(riverside.user(Role.PATIENT))
    across = probe.post(f"/api/portal/appointments/{theirs.pk}/cancel/", {}, content_type="application/json")

    assert checked_in.status_code == 409
    assert checked_in.json()["code"] == "wrong_status"
    assert "This one is checked in" in checked_in.json()["detail"]
    assert not_linked.status_code == 404
    assert across.status_code == 404
    assert sorted(status for _p, _s, status in _visits(stmarys)) == ["booked", "checked_in"]


def test_an_account_making_too_many_changes_in_an_hour_is_braked(family, stmarys):
    app, doctor, treatment = family["app"], family["doctor"], family["treatment"]
    with schema_context(stmarys.schema):
        other = User.objects.create_user(username="other@example.org", role=Role.PATIENT, password="o" * 20)
        portal_link(account=other, patient=family["second"], relationship="self", linked_by=family["desk"])
    days = [next_weekday(weekday) for weekday in range(7)]
    answers = []
    for n in range(PORTAL_CHANGES_PER_HOUR + 1):
        # a different day each time, so that every booking but the brake's is allowed
        day = days[n % 7] + dt.timedelta(days=7 * (n // 7))
        answers.append(_book(app, family["first"], doctor, treatment, at(day, 11, 45)))

    other_still = _book(stmarys.api(other), family["second"], doctor, treatment, at(days[0], 9))

    assert [a.status_code for a in answers[:PORTAL_CHANGES_PER_HOUR]] == [201] * PORTAL_CHANGES_PER_HOUR
    braked = answers[-1]
    assert braked.status_code == 429
    assert 3500 < int(braked["Retry-After"]) <= 3600  # what is left of the hour
    assert braked.json()["code"] == "too_many_requests"
    assert len([v for v in _visits(stmarys) if v[0] == family["first"].pk]) == PORTAL_CHANGES_PER_HOUR
    assert other_still.status_code == 201  # the brake is the account's, not the branch's


def test_a_staff_token_cannot_book_or_cancel_in_the_portal(family, stmarys):
    desk = stmarys.api(family["desk"])

    booked = _book(desk, family["first"], family["doctor"], family["treatment"], at(next_weekday(2), 10))

    assert booked.status_code == 403
    assert _visits(stmarys) == []


def test_a_patient_token_cannot_book_on_the_desks_route(family, stmarys):
    answer = family["app"].post(
        "/api/appointments/",
        {
            "patient_id": str(family["first"].pk),
            "doctor_id": family["doctor"].pk,
            "treatment_id": family["treatment"].pk,
            "start": at(next_weekday(2), 10).isoformat(),
            "overbook": True,
            "override_reason": "patients cannot override",
        },
        content_type="application/json",
    )

    assert answer.status_code == 403
    assert _visits(stmarys) == []


def test_a_portal_booking_is_taken_while_the_cache_is_down(family, stmarys, settings):
    # given Redis (the cache, where the hourly brake counts) unreachable
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }

    booked = _book(family["app"], family["first"], family["doctor"], family["treatment"], at(next_weekday(2), 10))

    assert booked.status_code == 201  # the brake is not counted, the booking is not refused
    assert _visits(stmarys)[0][2] == "booked"


def test_a_replayed_booking_of_a_record_unlinked_since_is_404(family, stmarys):
    app = family["app"]
    first = _book(app, family["first"], family["doctor"], family["treatment"], at(next_weekday(4), 10), key="once")
    PatientLink.objects.filter(account=family["account"]).delete()

    replayed = _book(app, family["first"], family["doctor"], family["treatment"], at(next_weekday(4), 10), key="once")

    assert first.status_code == 201
    assert replayed.status_code == 404
