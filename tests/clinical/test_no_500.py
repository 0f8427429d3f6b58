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
