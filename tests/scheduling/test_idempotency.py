"""Idempotency-Key on booking: a retry returns the first booking, never a second one."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiToken, Role
from clinical.models import Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment, IdempotentRequest, WorkingHours
from tests.clinical.conftest import post
from tests.scheduling.conftest import at, next_weekday


def book(client, body: dict, key: str | None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/appointments/", json.dumps(body), content_type="application/json", headers=headers)


def body_for(clinic, day, hour=9, minute=0, patient="first") -> dict:
    return {
        "patient_id": str(clinic[patient].pk),
        "doctor_id": clinic["doctor"].pk,
        "treatment_id": clinic["treatment"].pk,
        "start": at(day, hour, minute).isoformat(),
    }


@pytest.mark.django_db
def test_a_retry_with_the_same_key_answers_the_first_booking(stmarys, clinic):
    desk = stmarys.api(clinic["desk"])
    body = body_for(clinic, next_weekday(1))

    first = book(desk, body, "retry-7f3a")
    again = book(desk, body, "retry-7f3a")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Appointment.objects.filter(patient=clinic["first"]).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422_and_books_nothing(stmarys, clinic):
    desk = stmarys.api(clinic["desk"])
    day = next_weekday(1)
    book(desk, body_for(clinic, day), "key-1")

    other = book(desk, body_for(clinic, day, 10, patient="second"), "key-1")

    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert not Appointment.objects.filter(patient=clinic["second"]).exists()


@pytest.mark.django_db
def test_keys_belong_to_their_user_and_a_refusal_is_not_remembered(stmarys, clinic):
    day = next_weekday(2)
    desk = stmarys.api(clinic["desk"])
    admin = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))
    taken = book(desk, body_for(clinic, day, 9), None)

    refused = book(desk, body_for(clinic, day, 9, patient="second"), "shared-key")
    post(desk, f"/api/appointments/{taken.json()['id']}/cancel/", {"reason": "Phoned to cancel"})
    retried = book(desk, body_for(clinic, day, 9, patient="second"), "shared-key")
    theirs = book(admin, body_for(clinic, day, 10), "shared-key")

    assert refused.status_code == 409
    assert retried.status_code == 201  # the refusal was not stored: the retry ran, and the slot was free
    assert theirs.status_code == 201  # another user's key of the same name is theirs
    assert theirs.json()["id"] != retried.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", " ", "x" * 201, "naïve", "tab\there"])
def test_a_malformed_key_is_422(stmarys, clinic, key):
    response = book(stmarys.api(clinic["desk"]), body_for(clinic, next_weekday(3)), key)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert not Appointment.objects.exists()


def test_a_key_in_flight_is_409_and_a_crashed_request_leaves_it_free(committed):
    """The first request is held inside its transaction (the audit trail's lock is taken by the
    test); a second with the same key is told it is in flight; the first one's connection is then
    killed, as when a web worker dies; the retry books, once."""
    stmarys = committed.branch("stmarys")
    day = next_weekday(4, after=timezone.localdate() + dt.timedelta(days=7))
    desk_user = stmarys.user(Role.RECEPTIONIST)
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        hours = WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(10))
        treatment = Treatment.objects.create(name="Crash consultation", code="CRASH", duration_minutes=15)
        patient = Patient.objects.create(
            mrn="CRASH0001",
            full_name="Crash Test",
            name_search="crash test",
            gender="other",
            date_of_birth=dt.date(1980, 1, 1),
        )

    def remove() -> None:
        with schema_context(stmarys.schema):
            IdempotentRequest.objects.filter(user=desk_user).delete()
            Appointment.objects.filter(treatment=treatment).delete()
            PatientUserObjectPermission.objects.filter(content_object=patient).delete()
            patient.delete()
            treatment.delete()
            hours.delete()
            ApiToken.objects.filter(user=desk_user).delete()

    committed.cleanup(remove)
    desk = stmarys.api(desk_user)
    body = {
        "patient_id": str(patient.pk),
        "doctor_id": doctor.pk,
        "treatment_id": treatment.pk,
        "start": at(day, 9).isoformat(),
    }
    db = settings.DATABASES["default"]
    blocker = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)
    blocker.execute("SELECT pg_advisory_lock(7310, hashtext(%s))", [stmarys.schema])
    answers = {}

    def first_request() -> None:
        try:
            answers["first"] = book(desk, body, "flaky-network").status_code
        except Exception as exc:  # the killed connection
            answers["first"] = type(exc).__name__
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    holder = None
    for _ in range(100):  # wait until the first request holds the key
        holder = blocker.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 7313 AND granted"
        ).fetchone()
        if holder:
            break
        time.sleep(0.05)
    assert holder, "the first request never took its key"

    in_flight = book(desk, body, "flaky-network")
    blocker.execute("SELECT pg_terminate_backend(%s)", [holder[0]])
    thread.join(timeout=30)
    blocker.execute("SELECT pg_advisory_unlock(7310, hashtext(%s))", [stmarys.schema])
    blocker.close()
    retried = book(desk, body, "flaky-network")
    replayed = book(desk, body, "flaky-network")

    assert in_flight.status_code == 409
    assert in_flight.json()["code"] == "idempotency_in_flight"
    assert in_flight["Retry-After"] == "1"
    assert answers["first"] != 201
    assert retried.status_code == 201, retried.content
    assert replayed.json()["id"] == retried.json()["id"]
    with schema_context(stmarys.schema):
        assert Appointment.objects.filter(treatment=treatment).count() == 1
