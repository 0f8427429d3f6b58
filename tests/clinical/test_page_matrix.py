"""Who may open which clinical dashboard page: every page by every kind of caller, read (GET)
and written (POST). A refused POST changes nothing; a clinical page missing from the matrix
fails the test."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from django_tenants.utils import schema_context

from accounts.models import Role
from tests.clinical.conftest import World, state_of

pytestmark = pytest.mark.django_db

CALLERS = ["admin", "receptionist", "doctor", "other_doctor", "glass_doctor", "patient", "outsider", "anonymous"]
LOGIN = "login"  # sent to the sign-in page: the outsider's session means nothing on this host


def row(ok: dict[str, int]) -> dict[str, int | str]:
    expected: dict[str, int | str] = {caller: ok.get(caller, 403) for caller in CALLERS}
    expected.update(outsider=LOGIN, anonymous=LOGIN)
    return expected


STAFF = {"admin": 200, "receptionist": 200, "doctor": 200, "other_doctor": 200, "glass_doctor": 200}
READERS = {"admin": 200, "receptionist": 200, "doctor": 200, "glass_doctor": 200}

# url name → (expected on GET, expected on POST or None for a page that takes no POST)
MATRIX = {
    "patient_search": (row(STAFF), None),
    "patient_register": (row({"admin": 200, "receptionist": 200}), row({"admin": 302, "receptionist": 302})),
    "patient_profile": (row(READERS), None),
    "patient_edit": (row(READERS), row({k: 302 for k in READERS})),
    "follow_ups": (row({"admin": 200, "receptionist": 200}), row({"admin": 302, "receptionist": 302})),
    "record_new": (row({"doctor": 200, "glass_doctor": 200}), row({"doctor": 302, "glass_doctor": 302})),
    # Drafts are only ever sent: opening the address is "method not allowed" for anyone signed in.
    "record_draft": (
        {**{caller: 405 for caller in CALLERS}, "outsider": LOGIN, "anonymous": LOGIN},
        row({"doctor": 200, "glass_doctor": 200}),
    ),
    "record_correct": (row({"doctor": 200}), row({"doctor": 302})),
    "break_glass_open": (
        row({"doctor": 200, "other_doctor": 200, "glass_doctor": 200}),
        row({"doctor": 302, "other_doctor": 302, "glass_doctor": 302}),
    ),
    "patient_doctors": (row({"admin": 200}), row({"admin": 302})),
    "break_glass_review": (row({"admin": 200}), row({"admin": 302})),
    "audit": (row({"admin": 200}), None),
    "audit_export": (row({"admin": 200}), None),
    "treatments": (row({"admin": 200}), row({"admin": 302})),
    "treatment_edit": (row({"admin": 200}), row({"admin": 302})),
    # Made on demand when not ready yet: the file, for those who may print.
    "prescription_pdf": (row({"admin": 200, "doctor": 200, "glass_doctor": 200}), None),
    "prescription_pdf_status": (row({"admin": 200, "doctor": 200, "glass_doctor": 200}), None),
    # For pharmacists: open to everyone on the branch's host, signed in or not.
    "verify": ({caller: 200 for caller in CALLERS}, None),
}

RECORD_FIELDS = {
    "treatment": "",
    "icd10_code": "",
    "clinical_notes": "",
    "patient_advice": "",
    "follow_up_in_days": "",
    "follow_up_on": "",
    "follow_up_note": "",
}
PATIENT_FIELDS = {"full_name": "Matrix Person", "gender": "male", "date_of_birth": "2001-01-01"}


def test_every_clinical_page_is_in_the_matrix():
    clinical = get_resolver("config.urls_branch").namespace_dict["clinical"][1]
    names = {pattern.name for pattern in clinical.url_patterns}
    assert names == set(MATRIX)


def _url(name: str, world: World) -> str:
    kwargs = {
        "patient_search": {},
        "patient_register": {},
        "follow_ups": {},
        "break_glass_review": {},
        "audit": {},
        "audit_export": {},
        "treatments": {},
        "record_correct": {"record_id": world.record_id},
        "treatment_edit": {"treatment_id": world.treatment.pk},
        "verify": {"code": _verification_code(world)},
        "prescription_pdf": {"prescription_id": world.prescription_id},
        "prescription_pdf_status": {"prescription_id": world.prescription_id},
    }.get(name, {"patient_id": world.patient.pk})
    return reverse(f"clinical:{name}", kwargs=kwargs)


def _verification_code(world: World) -> str:
    from clinical.models import Prescription

    return Prescription.objects.get(pk=world.prescription_id).verification_code


def _body(name: str, world: World, other_doctor) -> dict:
    return {
        "patient_register": PATIENT_FIELDS,
        "patient_edit": {**PATIENT_FIELDS, "allergies": "Latex\nPeanuts"},
        "follow_ups": {"record": world.record_id},
        "record_new": {**RECORD_FIELDS, "diagnosis": "Sprained ankle"},
        "record_draft": {**RECORD_FIELDS, "diagnosis": "Sprained"},
        "record_correct": {**RECORD_FIELDS, "diagnosis": "Sprain", "correction_reason": "Wording"},
        "break_glass_open": {"reason": "Arrived unconscious by ambulance"},
        "patient_doctors": {"op": "assign", "doctor": other_doctor.pk},
        "break_glass_review": {"access": world.access_id, "note": "Appropriate"},
        "treatments": {"name": "Dressing", "code": "DRS", "duration_minutes": "20", "active": "on"},
        "treatment_edit": {"name": "Consultation", "code": "CONS", "duration_minutes": "30", "active": "on"},
    }[name]


def _client(caller: str, world: World, stmarys, riverside) -> Client:
    if caller == "anonymous":
        return Client(HTTP_HOST=stmarys.host)
    if caller == "outsider":
        signed_in = riverside.client(riverside.user(Role.HOSPITAL_ADMIN))
        signed_in.defaults["HTTP_HOST"] = stmarys.host
        return signed_in
    return stmarys.client(world.callers[caller])


def _check(response, expected) -> None:
    if expected == LOGIN:
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == expected, response.content[:400]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", list(MATRIX))
def test_opening_a_page(stmarys, riverside, world, name, caller):
    expected = MATRIX[name][0]
    client = _client(caller, world, stmarys, riverside)

    response = client.get(_url(name, world))

    _check(response, expected[caller])


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", [name for name, (_get, sent) in MATRIX.items() if sent])
def test_sending_a_page(stmarys, riverside, other_doctor, world, name, caller):
    expected = MATRIX[name][1][caller]
    client = _client(caller, world, stmarys, riverside)
    before = state_of(stmarys, world.patient)

    response = client.post(_url(name, world), _body(name, world, other_doctor))

    _check(response, expected)
    if expected in (403, LOGIN):
        assert state_of(stmarys, world.patient) == before, "a refused POST changed something"
    else:
        with schema_context(stmarys.schema):
            assert state_of(stmarys, world.patient) != before, "an accepted POST changed nothing"
