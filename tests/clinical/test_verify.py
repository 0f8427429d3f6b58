"""A pharmacist checks a printed prescription at /verify/<code>/: the branch, the doctor, the
date and whether it is still valid, nothing more; unknown codes and bulk tries get nowhere."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from clinical.models import Prescription
from tests.clinical.conftest import assign, post, record, register

pytestmark = pytest.mark.django_db

LINE = {"medicine": "Amoxicillin", "strength": "500 mg", "dose": "1", "frequency": "tds", "duration": "5 days"}


def _prescribed(branch) -> tuple[dict, dict]:
    doctor = branch.user(Role.DOCTOR)
    patient = register(branch, full_name="Verity Checkley")
    assign(branch, patient["id"], doctor)
    return patient, record(branch, doctor, patient["id"], prescriptions=[LINE])


def _code(made: dict) -> str:
    return Prescription.objects.get(pk=made["prescription"]["id"]).verification_code


def test_a_valid_prescription_shows_branch_doctor_and_date_and_nothing_of_the_patient(stmarys):
    patient, made = _prescribed(stmarys)

    page = Client(HTTP_HOST=stmarys.host).get(f"/verify/{_code(made)}/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "is valid" in text
    assert "St Mary&#x27;s Hospital" in text
    assert stmarys.user(Role.DOCTOR).full_name in text
    assert patient["mrn"] not in text
    assert "Verity" not in text
    assert "amoxicillin" not in text.lower()


def test_a_corrected_prescription_is_no_longer_valid(stmarys):
    _patient, made = _prescribed(stmarys)
    old_code = _code(made)
    corrected = post(
        stmarys.api(stmarys.user(Role.DOCTOR)),
        f"/api/treatments/record/{made['id']}/correct/",
        {"diagnosis": "Asthma", "correction_reason": "Dose", "prescriptions": [{**LINE, "dose": "2"}]},
    )
    assert corrected.status_code == 201

    old = Client(HTTP_HOST=stmarys.host).get(f"/verify/{old_code}/")
    new = Client(HTTP_HOST=stmarys.host).get(f"/verify/{_code(corrected.json())}/")

    assert "no longer valid" in old.content.decode()
    assert "is valid" in new.content.decode()


def test_an_unknown_code_or_another_branchs_code_is_404(stmarys, riverside):
    _patient, made = _prescribed(stmarys)

    unknown = Client(HTTP_HOST=stmarys.host).get("/verify/not-a-real-code/")
    elsewhere = Client(HTTP_HOST=riverside.host).get(f"/verify/{_code(made)}/")

    assert unknown.status_code == 404
    assert elsewhere.status_code == 404
    assert "No prescription of this hospital has this code" in elsewhere.content.decode()


def test_bulk_tries_from_one_address_are_stopped(stmarys):
    client = Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="203.0.113.77")

    answers = [client.get(f"/verify/guess-{n}/").status_code for n in range(22)]

    assert answers[:20] == [404] * 20
    assert answers[20:] == [429, 429]
    assert client.get("/verify/guess-x/")["Retry-After"] == "60"
    assert Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="203.0.113.78").get("/verify/guess/").status_code == 404
