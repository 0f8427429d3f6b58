"""Prescribing against a recorded allergy asks the doctor to confirm, and the confirmation is
in the audit trail."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.allergies import allergy_clashes
from clinical.models import AuditEvent, TreatmentRecord
from tests.clinical.conftest import assign, post, register
from tests.clinical.test_doctor_pages import form, url


@pytest.mark.parametrize(
    ("medicine", "allergy", "clash"),
    [
        ("Amoxicillin", "Penicillin", True),
        ("Phenoxymethylpenicillin (penicillin V)", "penicillin", True),
        ("Co-trimoxazole", "Sulfa drugs", True),
        ("Ibuprofen", "NSAIDs", True),
        ("Aspirin", "aspirin", True),
        ("Paracetamol", "Penicillin", False),
        ("Iron", "Environmental dust", False),
        ("Salbutamol", "Latex", False),
        ("Ceftriaxone", "Penicillin", False),
    ],
)
def test_which_medicines_clash_with_which_allergies(medicine, allergy, clash):
    assert bool(allergy_clashes([medicine], [allergy])) is clash


LINE = {
    "medicine": "Amoxicillin",
    "strength": "500 mg",
    "dose": "1 capsule",
    "frequency": "three times a day",
    "duration": "5 days",
    "instructions": "",
}


@pytest.mark.django_db
def test_the_api_asks_for_confirmation_and_records_it(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, allergies=[{"substance": "Penicillin", "severity": "severe"}])
    assign(stmarys, patient["id"], doctor)
    body = {"patient_id": patient["id"], "diagnosis": "Tonsillitis", "prescriptions": [LINE]}

    refused = post(stmarys.api(doctor), "/api/treatments/record/", body)
    confirmed = post(stmarys.api(doctor), "/api/treatments/record/", {**body, "allergy_acknowledged": True})

    assert refused.status_code == 409
    assert refused.json()["clashes"] == [{"line": 0, "medicine": "Amoxicillin", "allergy": "Penicillin"}]
    assert confirmed.status_code == 201
    with schema_context(stmarys.schema):
        assert TreatmentRecord.objects.filter(patient_id=patient["id"]).count() == 1
        event = AuditEvent.objects.get(patient_id=patient["id"], action="record")
        assert event.detail["allergy_confirmed"][0]["allergy"] == "Penicillin"


@pytest.mark.django_db
def test_the_record_screen_shows_the_clash_and_saves_once_confirmed(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, allergies=[{"substance": "Penicillin", "severity": "severe"}])
    assign(stmarys, patient["id"], doctor)
    client = stmarys.client(doctor)

    refused = client.post(url("record_new", patient["id"]), form([LINE], diagnosis="Tonsillitis"))
    confirmed = client.post(
        url("record_new", patient["id"]), form([LINE], diagnosis="Tonsillitis", allergy_acknowledged="on")
    )

    assert refused.status_code == 409
    assert "The patient is allergic: Amoxicillin (Penicillin)" in refused.content.decode()
    assert 'name="allergy_acknowledged"' in refused.content.decode()
    assert confirmed.status_code == 302
