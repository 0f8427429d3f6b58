"""A patient's prescriptions in the portal: the linked record's, as they stand, with the advice
and without the diagnosis; the PDF (202 while it is made) only of a linked record."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Prescription
from clinical.tasks import prescription_render
from portal.services import portal_link
from tests.clinical.conftest import assign, prescribe, record, register

pytestmark = pytest.mark.django_db


def test_a_parent_reads_their_childs_prescriptions_and_downloads_the_pdf(stmarys, riverside):
    doctor = stmarys.user(Role.DOCTOR)
    child = register(stmarys, full_name="Rx Child", date_of_birth="2016-06-06")
    stranger = register(stmarys, full_name="Rx Stranger", date_of_birth="1966-06-06")
    for patient in (child, stranger):
        assign(stmarys, patient["id"], doctor)
    mine = record(
        stmarys,
        doctor,
        child["id"],
        diagnosis="Otitis media",
        patient_advice="Finish the whole course.",
        prescriptions=[
            {"medicine": "Amoxicillin", "dose": "5 ml", "frequency": "three times a day", "duration": "7 days"}
        ],
    )["prescription"]["id"]
    theirs = prescribe(stmarys, doctor, stranger["id"], diagnosis="Secret condition")
    elsewhere_patient = register(riverside, full_name="Rx Elsewhere", date_of_birth="1970-01-01")
    riverside_doctor = riverside.user(Role.DOCTOR)
    assign(riverside, elsewhere_patient["id"], riverside_doctor)
    elsewhere = prescribe(riverside, riverside_doctor, elsewhere_patient["id"])
    with schema_context(stmarys.schema):
        account = User.objects.create_user(username="rx.parent@example.org", role=Role.PATIENT, password="p" * 20)
        portal_link(
            account=account,
            patient=Patient.objects.get(pk=child["id"]),
            relationship="parent",
            linked_by=stmarys.user(Role.RECEPTIONIST),
        )
    app = stmarys.api(account)

    listed = app.get("/api/portal/prescriptions/", {"patient": child["id"]})
    pending = app.get(f"/api/portal/prescriptions/{mine}/pdf/")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        prescription_render(mine)
    ready = app.get(f"/api/portal/prescriptions/{mine}/pdf/")
    not_linked = app.get(f"/api/portal/prescriptions/{theirs}/pdf/")
    other_branch = app.get(f"/api/portal/prescriptions/{elsewhere}/pdf/")
    their_list = app.get("/api/portal/prescriptions/", {"patient": stranger["id"]})

    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == mine
    assert [line["medicine"] for line in item["lines"]] == ["Amoxicillin"]
    assert item["advice"] == "Finish the whole course."
    assert "Otitis" not in json.dumps(listed.json())  # no diagnosis in the portal
    assert pending.status_code == 202
    assert pending["Retry-After"] == "2"
    assert ready.status_code == 200
    assert ready["Content-Type"] == "application/pdf"
    assert b"".join(ready.streaming_content).startswith(b"%PDF")
    assert not_linked.status_code == 404
    assert other_branch.status_code == 404
    assert their_list.status_code == 404
    with schema_context(stmarys.schema):
        Prescription.objects.get(pk=mine).pdf_file.delete(save=False)
