"""Registering patients through the API: what the front desk sees, and what is refused."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient
from tests.clinical.conftest import post

pytestmark = pytest.mark.django_db


def patients_in(branch) -> int:
    with schema_context(branch.schema):
        return Patient.objects.count()


def test_registration_answers_201_with_an_mrn_and_the_age(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))

    response = post(
        desk,
        "/api/patients/",
        {
            "full_name": "  Amelia   Hart ",
            "gender": "female",
            "date_of_birth": "1990-04-02",
            "phone": "020 7946 0018",
            "email": "amelia@example.org",
            "identifiers": [{"type": "passport", "value": "ab 123-456"}],
            "allergies": [{"substance": "Penicillin", "severity": "severe"}],
            "contact": {"name": "Tom Hart", "relation": "husband", "phone": "+44 7911 123456"},
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["full_name"] == "Amelia Hart"
    assert body["mrn"].startswith(stmarys.hospital.mrn_prefix)
    assert body["phone"] == "+442079460018"
    assert body["contact"]["phone"] == "+447911123456"
    assert body["age"] >= 36
    assert body["allergies"] == [{"substance": "Penicillin", "reaction": "", "severity": "severe"}]
    assert body["shared_phone"] == []


def test_an_infant_registered_by_age_in_days_gets_an_estimated_birth_date(stmarys):
    desk = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))

    response = post(
        desk, "/api/patients/", {"full_name": "Baby Hart", "gender": "male", "age": {"value": 10, "unit": "days"}}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["date_of_birth_estimated"] is True
    assert body["age"] == 0
    assert body["age_display"] == "10 d"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gender": "female", "date_of_birth": "1990-01-01"}, "full_name"),
        ({"full_name": "A", "gender": "robot", "date_of_birth": "1990-01-01"}, "gender"),
        ({"full_name": "A", "gender": "female"}, "date_of_birth"),
        ({"full_name": "A", "gender": "female", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"full_name": "A", "gender": "female", "date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"full_name": "A", "gender": "female", "age": {"value": 131}}, "age"),
        ({"full_name": "A", "gender": "female", "age": {"value": -1}}, "age"),
        ({"full_name": "A" * 201, "gender": "female", "date_of_birth": "1990-01-01"}, "full_name"),
        ({"full_name": "A\x00B", "gender": "female", "date_of_birth": "1990-01-01"}, "full_name"),
        ({"full_name": "A", "gender": "female", "date_of_birth": "1990-01-01", "phone": "12"}, "phone"),
        ({"full_name": "A", "gender": "female", "date_of_birth": "1990-01-01", "phone": "+44 20 7946 00"}, "phone"),
        ({"full_name": "A", "gender": "female", "date_of_birth": "1990-01-01", "email": "not-mail"}, "email"),
        (
            {
                "full_name": "A",
                "gender": "female",
                "date_of_birth": "1990-01-01",
                "identifiers": [{"type": "passport", "value": " "}],
            },
            "identifiers",
        ),
        (
            {
                "full_name": "A",
                "gender": "female",
                "date_of_birth": "1990-01-01",
                "allergies": [{"substance": "x"}, {"substance": "X"}],
            },
            "allergies",
        ),
        ({"full_name": "A", "gender": "female", "date_of_birth": "01/02/1990"}, "date_of_birth"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(stmarys, body, field):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    before = patients_in(stmarys)

    response = post(desk, "/api/patients/", body)

    assert response.status_code == 422, response.content
    assert any(field in error["loc"] for error in response.json()["detail"]), response.json()
    assert patients_in(stmarys) == before


def test_an_unidentified_patient_is_registered_by_description_and_completed_later(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    created = post(
        desk,
        "/api/patients/",
        {"description": "Man, about 40, brought in by ambulance", "gender": "male", "age": {"value": 40}},
    ).json()
    assert created["unidentified"] is True

    completed = desk.patch(
        f"/api/patients/{created['id']}/", json.dumps({"full_name": "John Doe"}), content_type="application/json"
    )

    assert completed.status_code == 200, completed.content
    assert completed.json()["full_name"] == "John Doe"
    assert completed.json()["unidentified"] is False
    assert completed.json()["mrn"] == created["mrn"]


def test_a_similar_name_with_the_same_birth_date_is_409_with_candidates_until_confirmed(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    first = post(
        desk, "/api/patients/", {"full_name": "José Núñez", "gender": "male", "date_of_birth": "1980-05-05"}
    ).json()
    before = patients_in(stmarys)

    again = post(desk, "/api/patients/", {"full_name": "jose nunez", "gender": "male", "date_of_birth": "1980-05-05"})

    assert again.status_code == 409
    assert [c["mrn"] for c in again.json()["candidates"]] == [first["mrn"]]
    assert patients_in(stmarys) == before
    confirmed = post(
        desk,
        "/api/patients/",
        {"full_name": "jose nunez", "gender": "male", "date_of_birth": "1980-05-05", "confirm_new": True},
    )
    assert confirmed.status_code == 201


def test_the_same_identifier_is_409_even_when_confirmed(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    post(
        desk,
        "/api/patients/",
        {
            "full_name": "Ann Lee",
            "gender": "female",
            "date_of_birth": "1970-01-01",
            "identifiers": [{"type": "national_id", "value": "QQ123456C"}],
        },
    )

    response = post(
        desk,
        "/api/patients/",
        {
            "full_name": "Bob Stone",
            "gender": "male",
            "date_of_birth": "1971-01-01",
            "identifiers": [{"type": "national_id", "value": "qq 12 34 56 c"}],
            "confirm_new": True,
        },
    )

    assert response.status_code == 409
    assert response.json()["candidates"][0]["full_name"] == "Ann Lee"


def test_a_shared_phone_is_not_a_duplicate_but_a_hint(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    mother = post(
        desk,
        "/api/patients/",
        {"full_name": "Mary Hill", "gender": "female", "date_of_birth": "1985-03-03", "phone": "+44 20 7946 0999"},
    ).json()

    child = post(
        desk,
        "/api/patients/",
        {"full_name": "Lucy Hill", "gender": "female", "date_of_birth": "2015-03-03", "phone": "02079460999"},
    )

    assert child.status_code == 201
    assert [p["id"] for p in child.json()["shared_phone"]] == [mother["id"]]
