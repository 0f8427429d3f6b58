"""Clinical fixtures: patients registered and doctors assigned through the real API."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import user_role_group_set
from clinical import services
from clinical.models import (
    BreakGlassAccess,
    Patient,
    PatientUserObjectPermission,
    RecordDraft,
    Treatment,
    TreatmentRecord,
)


def post(client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client, path: str, body: dict):
    return client.patch(path, json.dumps(body), content_type="application/json")


def register(branch, **fields) -> dict:
    body = {"full_name": "Amelia Hart", "gender": "female", "date_of_birth": "1990-04-02", **fields}
    response = post(branch.api(branch.user(Role.RECEPTIONIST)), "/api/patients/", body)
    assert response.status_code == 201, response.content
    return response.json()


def assign(branch, patient_id: str, doctor: User) -> None:
    response = post(
        branch.api(branch.user(Role.HOSPITAL_ADMIN)), f"/api/patients/{patient_id}/doctors/", {"doctor_id": doctor.pk}
    )
    assert response.status_code in (200, 201), response.content


def record(branch, doctor: User, patient_id: str, **fields) -> dict:
    body = {"patient_id": patient_id, "diagnosis": "Asthma, mild", "icd10_code": "J45.20", **fields}
    response = post(branch.api(doctor), "/api/treatments/record/", body)
    assert response.status_code == 201, response.content
    return response.json()


def prescribe(branch, doctor: User, patient_id: str, *, diagnosis: str = "Fever", **line: str) -> str:
    """A record with a one-line prescription, saved by ``doctor`` through the API (which asserts
    201); the prescription's id."""
    medicine = {"medicine": "Paracetamol", "dose": "1 tablet", "frequency": "three times a day", "duration": "5 days"}
    made = record(branch, doctor, patient_id, diagnosis=diagnosis, prescriptions=[{**medicine, **line}])
    return made["prescription"]["id"]


@pytest.fixture
def other_doctor(stmarys) -> User:
    """A colleague of the same branch who is not assigned to anyone."""
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = User.objects.create_user(
            username="other-doctor@stmarys.test",
            email="other-doctor@stmarys.test",
            role=Role.DOCTOR,
            full_name="Dr Other",
        )
        user_role_group_set(user=doctor, role=Role.DOCTOR)
        return doctor


# --- one patient seen by every kind of caller (the permission matrices) -----------------------


@dataclass
class World:
    patient: Patient
    record_id: str
    prescription_id: str
    treatment: Treatment
    access_id: int
    callers: dict[str, User | None]


@pytest.fixture
def world(stmarys, riverside, other_doctor) -> World:
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, allergies=[{"substance": "Latex"}])
    assign(stmarys, patient["id"], doctor)
    made = record(
        stmarys,
        doctor,
        patient["id"],
        follow_up={"in_days": 7},
        prescriptions=[
            {
                "medicine": "Salbutamol",
                "strength": "100 mcg",
                "dose": "2 puffs",
                "frequency": "when needed",
                "duration": "1 month",
            }
        ],
    )
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        glass = User.objects.create_user(username="glass@stmarys.test", email="glass@stmarys.test", role=Role.DOCTOR)
        patient_row = Patient.objects.get(pk=patient["id"])
        services.break_glass_open(doctor=glass, patient=patient_row, reason="Collapsed in the waiting room")
        access = BreakGlassAccess.objects.get(doctor=glass)
        treatment = Treatment.objects.create(name="Consultation", code="CONS", duration_minutes=15)
    return World(
        patient=patient_row,
        record_id=made["id"],
        prescription_id=made["prescription"]["id"],
        treatment=treatment,
        access_id=access.pk,
        callers={
            "admin": stmarys.user(Role.HOSPITAL_ADMIN),
            "receptionist": stmarys.user(Role.RECEPTIONIST),
            "doctor": doctor,
            "other_doctor": other_doctor,
            "glass_doctor": glass,
            "patient": stmarys.user(Role.PATIENT),
            "outsider": riverside.user(Role.HOSPITAL_ADMIN),
            "outsider_at_home": riverside.user(Role.HOSPITAL_ADMIN),
            "anonymous": None,
        },
    )


def state_of(branch, patient: Patient) -> dict:
    """Everything a clinical write could change, except the audit trail."""
    with schema_context(branch.schema):
        fresh = Patient.objects.get(pk=patient.pk)
        return {
            "patients": Patient.objects.count(),
            "patient": (fresh.updated_at, sorted(a.substance for a in fresh.allergies.all())),
            "records": list(TreatmentRecord.objects.order_by("id").values_list("id", "is_current")),
            "assignments": PatientUserObjectPermission.objects.count(),
            "accesses": list(BreakGlassAccess.objects.order_by("id").values_list("id", "reviewed_at")),
            "treatments": list(Treatment.objects.order_by("id").values_list("id", "code", "duration_minutes")),
            "drafts": list(RecordDraft.objects.order_by("id").values_list("id", "data")),
            "follow_ups": list(TreatmentRecord.objects.order_by("id").values_list("id", "follow_up_done_at")),
        }
