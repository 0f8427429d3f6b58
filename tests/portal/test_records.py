"""A linked patient's own record in the portal: the details (contact fields editable, checked as at
registration), the timeline (the advice and medicines, never the diagnosis or notes) and the access
log (who opened it, by role or by name as the branch decides, break-glass marked)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import AuditEvent, Patient
from core.branch import branch_today
from portal.services import portal_link
from tenants.models import Hospital
from tests.clinical.conftest import assign, post, record, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(stmarys):
    """An account linked to its own record (with contact details) and nothing else."""
    mine = register(
        stmarys,
        full_name="Nadia Karim",
        date_of_birth="1985-05-05",
        phone="+447911123456",
        email="nadia@example.org",
        allergies=[{"substance": "Penicillin", "reaction": "Rash", "severity": "moderate"}],
        medical_history={"chronic_conditions": "Hypertension", "notes": "Anxious about needles"},
    )
    other = register(stmarys, full_name="Someone Else", date_of_birth="1960-06-06")
    with schema_context(stmarys.schema):
        account = User.objects.create_user(username="nadia@example.org", role=Role.PATIENT, password="n" * 20)
        portal_link(
            account=account,
            patient=Patient.objects.get(pk=mine["id"]),
            relationship="self",
            linked_by=stmarys.user(Role.RECEPTIONIST),
        )
    return {"id": mine["id"], "other": other["id"], "account": account, "app": stmarys.api(account)}


def _patch(app, patient_id, body):
    return app.patch(f"/api/portal/patients/{patient_id}/", body, content_type="application/json")


def _stored(branch, patient_id) -> tuple:
    with schema_context(branch.schema):
        p = Patient.objects.get(pk=patient_id)
        return (p.full_name, p.phone, p.email, p.address, p.contact_name, p.contact_phone, p.contact_channel)


def test_a_patient_reads_their_details_without_the_medical_history(linked):
    answer = linked["app"].get(f"/api/portal/patients/{linked['id']}/")

    assert answer.status_code == 200
    body = answer.json()
    assert (body["full_name"], body["phone"], body["email"]) == ("Nadia Karim", "+447911123456", "nadia@example.org")
    assert body["allergies"] == [{"substance": "Penicillin", "reaction": "Rash", "severity": "moderate"}]
    text = json.dumps(body)
    assert "Hypertension" not in text
    assert "needles" not in text


def test_a_patient_changes_their_contact_details(linked, stmarys):
    answer = _patch(
        linked["app"],
        linked["id"],
        {
            "phone": "07911 123457",  # national, as at registration: stored in E.164
            "address": "12 Mill Lane, Leeds",
            "contact": {"name": "Omar Karim", "relation": "brother", "phone": "+447911123458"},
            "reminders": {"channel": "sms"},
        },
    )

    assert answer.status_code == 200, answer.content
    assert answer.json()["phone"] == "+447911123457"
    assert _stored(stmarys, linked["id"]) == (
        "Nadia Karim",
        "+447911123457",
        "nadia@example.org",
        "12 Mill Lane, Leeds",
        "Omar Karim",
        "+447911123458",
        "sms",
    )
    with schema_context(stmarys.schema):
        event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, patient_id=linked["id"])
        assert event.actor_role == Role.PATIENT
        assert event.detail["fields"] == ["address", "contact", "phone", "reminders"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"phone": "12"}, ["body", "phone"]),
        ({"email": "not-an-address"}, ["body", "email"]),
        ({"contact": {"name": "Omar", "phone": "call me"}}, ["body", "contact", "phone"]),
        ({"address": "x" * 1001}, ["body", "address"]),
        ({"phone": "+447911123459\x00"}, ["body", "phone"]),
        ({"reminders": {"channel": "pigeon"}}, ["body", "reminders", "channel"]),
        # what identifies the patient is changed at the desk, never here
        ({"full_name": "Someone New"}, ["body", "full_name"]),
        ({"date_of_birth": "2001-01-01"}, ["body", "date_of_birth"]),
        ({"allergies": []}, ["body", "allergies"]),
        ({"medical_history": {"notes": "mine"}}, ["body", "medical_history"]),
    ],
)
def test_a_bad_or_forbidden_field_is_422_on_it_and_changes_nothing(linked, stmarys, body, where):
    before = _stored(stmarys, linked["id"])

    answer = _patch(linked["app"], linked["id"], body)

    assert answer.status_code == 422, answer.content
    assert where in [error["loc"] for error in answer.json()["detail"]]
    assert _stored(stmarys, linked["id"]) == before


def test_another_record_or_branch_is_404_for_reading_and_changing(linked, stmarys, riverside):
    elsewhere = register(riverside, full_name="River Person", date_of_birth="1970-01-01")
    before = _stored(stmarys, linked["other"])

    for patient_id in (linked["other"], elsewhere["id"]):
        assert linked["app"].get(f"/api/portal/patients/{patient_id}/").status_code == 404
        assert _patch(linked["app"], patient_id, {"address": "Taken over"}).status_code == 404
        assert linked["app"].get("/api/portal/timeline/", {"patient": patient_id}).status_code == 404
        assert linked["app"].get("/api/portal/access-log/", {"patient": patient_id}).status_code == 404
    assert _stored(stmarys, linked["other"]) == before


def test_the_timeline_gives_the_advice_and_medicines_and_never_the_diagnosis_or_notes(linked, stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    assign(stmarys, linked["id"], doctor)
    record(
        stmarys,
        doctor,
        linked["id"],
        diagnosis="Essential hypertension",
        clinical_notes="Patient seemed evasive",
        patient_advice="Less salt; walk every day.",
        follow_up={"in_days": 30},
        prescriptions=[{"medicine": "Amlodipine", "dose": "5 mg", "frequency": "once a day", "duration": "30 days"}],
    )

    answer = linked["app"].get("/api/portal/timeline/", {"patient": linked["id"]})

    assert answer.status_code == 200
    [entry] = answer.json()["items"]
    assert entry["advice"] == "Less salt; walk every day."
    assert entry["follow_up_on"] == (branch_today() + dt.timedelta(days=30)).isoformat()
    assert entry["doctor"]["id"] == doctor.pk
    assert [line["medicine"] for line in entry["prescription"]["lines"]] == ["Amlodipine"]
    text = json.dumps(answer.json())
    assert "hypertension" not in text.lower()
    assert "evasive" not in text
    assert "I10" not in text


def test_the_access_log_names_roles_marks_break_glass_and_names_staff_where_the_branch_allows(
    linked, stmarys, other_doctor
):
    doctor = stmarys.user(Role.DOCTOR)
    assign(stmarys, linked["id"], doctor)
    assert stmarys.api(doctor).get(f"/api/patients/{linked['id']}/").status_code == 200
    opened = post(
        stmarys.api(other_doctor),
        f"/api/patients/{linked['id']}/break-glass/",
        {"reason": "Brought in unconscious at night"},
    )
    assert opened.status_code in (200, 201), opened.content
    assert stmarys.api(other_doctor).get(f"/api/patients/{linked['id']}/").status_code == 200
    linked["app"].get(f"/api/portal/patients/{linked['id']}/")  # the patient's own reads are not listed

    by_role = linked["app"].get("/api/portal/access-log/", {"patient": linked["id"]})
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(portal_names_staff=True)
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    by_name = linked["app"].get("/api/portal/access-log/", {"patient": linked["id"]})

    assert by_role.status_code == by_name.status_code == 200
    entries = by_role.json()["items"]
    assert {entry["role"] for entry in entries} == {Role.HOSPITAL_ADMIN, Role.RECEPTIONIST, Role.DOCTOR}
    assert all(entry["name"] is None for entry in entries)
    emergency = [entry for entry in entries if entry["break_glass"]]
    assert emergency
    assert {entry["action"] for entry in emergency} >= {"view_profile"}
    assert entries[0]["action"] == "view_profile"  # latest first: the emergency opening
    assert entries[0]["break_glass"]
    assert "Opened the profile" in [entry["what"] for entry in entries]
    named = by_name.json()["items"]
    assert {entry["name"] for entry in named if entry["break_glass"]} == {"Dr Other"}
    assert "nadia@example.org" not in json.dumps(named)  # the patient's own account is never listed
