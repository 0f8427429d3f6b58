"""Clinical fixtures: patients registered and doctors assigned through the real API."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import user_role_group_set


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
