"""Whatever a client sends to the patient routes, the answer is a decision (201, 200, 409, 422),
never a 500, and a refusal stores nothing."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from clinical.models import Patient

pytestmark = pytest.mark.django_db

text = st.one_of(
    st.text(max_size=300), st.sampled_from(["", " ", "\x00", "+44", "2999-01-01", "0000-00-00", "💉", "\ud800"])
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20), st.floats(), text)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=10
)
FIELDS = [
    "full_name",
    "description",
    "gender",
    "date_of_birth",
    "age",
    "phone",
    "email",
    "address",
    "contact",
    "identifiers",
    "allergies",
    "medical_history",
    "confirm_new",
]
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8) | st.fixed_dictionaries(
    {"full_name": text, "gender": st.sampled_from(["female", "male", "x"]), "date_of_birth": text},
    optional={
        "phone": text,
        "email": text,
        "age": st.fixed_dictionaries({"value": scalars, "unit": text}),
        "identifiers": st.lists(st.fixed_dictionaries({"type": text, "value": text}), max_size=3),
        "allergies": st.lists(st.fixed_dictionaries({"substance": text}), max_size=3),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_registration_never_answers_500(stmarys, body):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    with schema_context(stmarys.schema):
        before = Patient.objects.count()

    response = desk.post("/api/patients/", json.dumps(body), content_type="application/json")

    assert response.status_code in (201, 409, 422), (body, response.content[:300])
    with schema_context(stmarys.schema):
        assert Patient.objects.count() == before + (response.status_code == 201)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(
        st.sampled_from(["search", "page", "page_size", "ordering", "doctor", "treatment", "date_from", "date_to"]),
        text,
        max_size=4,
    )
)
def test_search_never_answers_500(stmarys, query):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))

    # As a browser would send them: UTF-8 bytes, percent-encoded (lone surrogates included).
    encoded = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items())
    response = desk.get(f"/api/patients/?{encoded}")

    assert response.status_code in (200, 422), (query, response.content[:300])


@pytest.fixture
def treated(stmarys):
    """A patient with an assigned doctor: the routes below need one."""
    from tests.clinical.conftest import assign, register

    patient = register(stmarys, full_name="Fuzzy Patient", date_of_birth="1966-06-06")
    assign(stmarys, patient["id"], stmarys.user(Role.DOCTOR))
    return patient


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))
def test_changing_a_patient_never_answers_500(stmarys, treated, body):
    admin = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))

    response = admin.patch(f"/api/patients/{treated['id']}/", json.dumps(body), content_type="application/json")

    assert response.status_code in (200, 409, 422), (body, response.content[:300])


RECORD_FIELDS = [
    "appointment_id",
    "treatment_id",
    "diagnosis",
    "icd10_code",
    "clinical_notes",
    "patient_advice",
    "follow_up",
    "prescriptions",
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(RECORD_FIELDS), values, max_size=6))
def test_recording_a_treatment_never_answers_500(stmarys, treated, body):
    doctor = stmarys.api(stmarys.user(Role.DOCTOR))

    response = doctor.post(
        "/api/treatments/record/", json.dumps({**body, "patient_id": treated["id"]}), content_type="application/json"
    )

    assert response.status_code in (201, 422), (body, response.content[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["page", "page_size"]), text, max_size=2))
def test_the_timeline_never_answers_500(stmarys, treated, query):
    doctor = stmarys.api(stmarys.user(Role.DOCTOR))
    encoded = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in query.items())

    response = doctor.get(f"/api/patients/{treated['id']}/timeline/?{encoded}")

    assert response.status_code in (200, 422), (query, response.content[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["diagnosis", "icd10_code", "line-medicine", "follow_up_in_days", "lineage", "opened_at", "treatment"]
        ),
        text,
        max_size=5,
    )
)
def test_a_draft_never_answers_500(stmarys, treated, fields):
    doctor = stmarys.client(stmarys.user(Role.DOCTOR))
    body = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in fields.items())

    response = doctor.post(
        f"/patients/{treated['id']}/record/draft/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code in (200, 400, 422), (fields, response.content[:300])
