"""Who may call which clinical route: one matrix over every route by every kind of caller.

A denied call must change nothing (the audit trail aside: it records the denial). A clinical
route that is not in the matrix fails the test, so a new route cannot ship unchecked.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from accounts.models import User
from config.api import branch_api
from tests.clinical.conftest import World, state_of

pytestmark = pytest.mark.django_db

CALLERS = [
    "admin",
    "receptionist",
    "doctor",  # assigned to the patient, author of the record
    "other_doctor",  # same branch, not assigned
    "glass_doctor",  # not assigned, opened break-glass access
    "patient",  # a patient's token: patients use the portal routes
    "outsider",  # a hospital admin's token of the other branch, sent to this branch
    "outsider_at_home",  # the same admin on their own branch's host, naming this branch's ids
    "anonymous",
]
STAFF_OK = {"admin": 200, "receptionist": 200, "doctor": 200, "other_doctor": 200, "glass_doctor": 200}
DENIED = {"patient": 403, "outsider": 401, "anonymous": 401}


def row(ok: dict[str, int], *, ids: bool = True) -> dict[str, int | None]:
    expected: dict[str, int | None] = {caller: ok.get(caller, 403) for caller in CALLERS}
    # The outsider is a hospital admin: refused by role where admins are, else the id is unknown here.
    at_home = (404 if "admin" in ok else 403) if ids else None
    expected.update(outsider=401, anonymous=401, outsider_at_home=at_home)
    if "patient" not in ok:
        expected["patient"] = 403
    return expected


# (method, route as the API declares it, path to call, body) → expected status per caller.
# None: not applicable (a route without a patient id has nothing to name from another branch).
MATRIX = {
    ("POST", "/api/patients/"): row({"admin": 201, "receptionist": 201}, ids=False),
    ("GET", "/api/patients/"): row(STAFF_OK, ids=False),
    ("GET", "/api/patients/{patient_id}/"): row(
        {"admin": 200, "receptionist": 200, "doctor": 200, "glass_doctor": 200}
    ),
    ("PATCH", "/api/patients/{patient_id}/"): row(
        {"admin": 200, "receptionist": 200, "doctor": 200, "glass_doctor": 200}
    ),
    ("GET", "/api/patients/{patient_id}/timeline/"): row(
        {"admin": 200, "receptionist": 200, "doctor": 200, "glass_doctor": 200}
    ),
    ("POST", "/api/patients/{patient_id}/doctors/"): row({"admin": 201}),
    ("DELETE", "/api/patients/{patient_id}/doctors/{doctor_id}/"): row({"admin": 204}),
    ("POST", "/api/patients/{patient_id}/break-glass/"): row({"doctor": 201, "other_doctor": 201, "glass_doctor": 201}),
    ("GET", "/api/break-glass/"): row({"admin": 200}, ids=False),
    ("GET", "/api/follow-ups/"): row({"admin": 200, "receptionist": 200}, ids=False),
    ("POST", "/api/follow-ups/{record_id}/done/"): row({"admin": 204, "receptionist": 204}),
    ("POST", "/api/break-glass/{access_id}/review/"): row({"admin": 200}),
    ("GET", "/api/treatments/"): row({**STAFF_OK, "patient": 200}, ids=False),
    ("POST", "/api/treatments/"): row({"admin": 201}, ids=False),
    ("PATCH", "/api/treatments/{treatment_id}/"): row({"admin": 200}),
    ("POST", "/api/treatments/record/"): row({"doctor": 201, "glass_doctor": 201}),
    ("POST", "/api/treatments/record/{record_id}/correct/"): row({"doctor": 201}),
    # Being rendered (no worker here): 202. The desk prints only where the branch allows it.
    ("GET", "/api/prescriptions/{prescription_id}/pdf/"): row({"admin": 202, "doctor": 202, "glass_doctor": 202}),
}
CLINICAL_PREFIXES = (
    "/api/patients/",
    "/api/treatments/",
    "/api/break-glass/",
    "/api/follow-ups/",
    "/api/prescriptions/",
)


def _declared_routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in branch_api._routers:
        for path, path_view in router.path_operations.items():
            full = "/api/" + (prefix.strip("/") + "/" + path.lstrip("/")).lstrip("/")
            full = re.sub(r"\{\w+:", "{", full)  # "{uuid:patient_id}" → "{patient_id}"
            if full.startswith(CLINICAL_PREFIXES):
                for operation in path_view.operations:
                    for method in operation.methods:
                        routes.add((method, full))
    return routes


def test_every_clinical_route_is_in_the_matrix():
    assert _declared_routes() == set(MATRIX)


def _client(caller: str, world: World, stmarys, riverside) -> Client:
    user = world.callers[caller]
    if caller == "outsider":
        return Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {riverside.token(user)}")
    if caller == "outsider_at_home":
        return riverside.api(user)
    return stmarys.api(user)


def _request(method: str, route: str, world: World, other_doctor: User):
    path = route.format(
        patient_id=world.patient.pk,
        doctor_id=world.callers["doctor"].pk,
        access_id=world.access_id,
        treatment_id=world.treatment.pk,
        record_id=world.record_id,
        prescription_id=world.prescription_id,
    )
    bodies = {
        ("POST", "/api/patients/"): {"full_name": "New Person", "gender": "male", "date_of_birth": "2000-02-02"},
        ("PATCH", "/api/patients/{patient_id}/"): {"allergies": [{"substance": "Peanuts"}]},
        ("POST", "/api/patients/{patient_id}/doctors/"): {"doctor_id": other_doctor.pk},
        ("POST", "/api/patients/{patient_id}/break-glass/"): {"reason": "Arrived unconscious by ambulance"},
        ("POST", "/api/break-glass/{access_id}/review/"): {"note": "Appropriate"},
        ("POST", "/api/treatments/"): {"name": "Dressing", "code": "DRS", "duration_minutes": 20},
        ("PATCH", "/api/treatments/{treatment_id}/"): {"duration_minutes": 30},
        ("POST", "/api/treatments/record/"): {"patient_id": str(world.patient.pk), "diagnosis": "Sprained ankle"},
        ("POST", "/api/treatments/record/{record_id}/correct/"): {
            "diagnosis": "Sprain",
            "correction_reason": "Wording",
        },
    }
    body = bodies.get((method, route))
    return method, path, (json.dumps(body) if body is not None else None)


# Every route by every caller it applies to: a route without an id has nothing that an admin of
# another branch could name from their own host, so that pair is not a case.
CASES = [(method, route, caller) for (method, route), row in MATRIX.items() for caller in CALLERS if row[caller]]


@pytest.mark.parametrize(("method", "route", "caller"), CASES)
def test_matrix(stmarys, riverside, other_doctor, world, method, route, caller):
    expected = MATRIX[(method, route)][caller]
    client = _client(caller, world, stmarys, riverside)
    method, path, body = _request(method, route, world, other_doctor)
    before = state_of(stmarys, world.patient)

    call = getattr(client, method.lower())
    response = call(path, body, content_type="application/json") if body is not None else call(path)

    assert response.status_code == expected, (caller, method, path, response.content[:300])
    if response.status_code >= 400:
        assert state_of(stmarys, world.patient) == before, "a denied call changed something"
        assert "detail" in response.json()
