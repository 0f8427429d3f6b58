"""Profiles, treatment records, corrections, the timeline, assignment and break-glass: through
the API, as each role would see them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import AuditEvent, BreakGlassAccess, TreatmentRecord
from tests.clinical.conftest import assign, patch, post, record, register

pytestmark = pytest.mark.django_db

LINE = {
    "medicine": "Salbutamol",
    "strength": "100 mcg",
    "dose": "2 puffs",
    "frequency": "when needed",
    "duration": "30 days",
    "instructions": "Shake well",
}


def test_an_assigned_doctor_records_a_treatment_and_sees_it_on_the_profile_and_timeline(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)

    created = record(
        stmarys,
        doctor,
        patient["id"],
        prescriptions=[LINE],
        patient_advice="Avoid smoke.",
        follow_up={"in_days": 14, "note": "review"},
    )

    assert created["prescription"]["lines"][0]["medicine"] == "Salbutamol"
    assert dt.date.fromisoformat(created["follow_up_on"]) > timezone.localdate()
    profile = stmarys.api(doctor).get(f"/api/patients/{patient['id']}/").json()
    assert profile["access"] == "assignment"
    assert [r["id"] for r in profile["recent_treatments"]] == [created["id"]]
    timeline = stmarys.api(doctor).get(f"/api/patients/{patient['id']}/timeline/").json()
    assert timeline["count"] == 1
    assert timeline["items"][0]["diagnosis"] == "Asthma, mild"


def test_receptionists_see_the_treatment_and_date_but_no_diagnosis_notes_or_prescription(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    record(stmarys, doctor, patient["id"], clinical_notes="Wheeze both lungs", prescriptions=[LINE])
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))

    profile = desk.get(f"/api/patients/{patient['id']}/")
    timeline = desk.get(f"/api/patients/{patient['id']}/timeline/")

    for response in (profile, timeline):
        assert response.status_code == 200
        text = response.content.decode()
        assert "Asthma" not in text
        assert "Wheeze" not in text
        assert "Salbutamol" not in text
    assert timeline.json()["items"][0]["visit_at"]
    admin_text = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN)).get(f"/api/patients/{patient['id']}/timeline/")
    assert "Asthma" in admin_text.content.decode()


def test_a_correction_is_a_new_version_and_the_old_one_stays_visible(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    first = record(stmarys, doctor, patient["id"])

    corrected = post(
        stmarys.api(doctor),
        f"/api/treatments/record/{first['id']}/correct/",
        {"diagnosis": "Asthma, moderate", "correction_reason": "Typed the wrong severity"},
    )

    assert corrected.status_code == 201, corrected.content
    assert corrected.json()["version"] == 2
    timeline = stmarys.api(doctor).get(f"/api/patients/{patient['id']}/timeline/").json()
    assert timeline["count"] == 1
    entry = timeline["items"][0]
    assert entry["diagnosis"] == "Asthma, moderate"
    assert [old["diagnosis"] for old in entry["earlier_versions"]] == ["Asthma, mild"]
    again = post(
        stmarys.api(doctor),
        f"/api/treatments/record/{first['id']}/correct/",
        {"diagnosis": "x", "correction_reason": "from an old screen"},
    )
    assert again.status_code == 409


def test_only_the_author_corrects_a_record(stmarys, other_doctor):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    assign(stmarys, patient["id"], other_doctor)
    first = record(stmarys, doctor, patient["id"])

    response = post(
        stmarys.api(other_doctor),
        f"/api/treatments/record/{first['id']}/correct/",
        {"diagnosis": "x", "correction_reason": "not mine"},
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"icd10_code": "asthma"}, "icd10_code"),
        ({"follow_up": {"in_days": 0}}, "follow_up"),
        ({"follow_up": {"on": "2000-01-01"}}, "follow_up"),
        ({"prescriptions": [{**LINE, "dose": ""}]}, "prescriptions"),
        ({"prescriptions": [LINE] * 31}, "prescriptions"),
        ({"diagnosis": "", "icd10_code": ""}, "diagnosis"),
        ({"treatment_id": 999999}, "treatment_id"),
        ({"appointment_id": "8d3c2f7e-3a3b-4a51-9a77-1f1f1f1f1f1f"}, "appointment_id"),
        ({"diagnosis": "x" * 2001}, "diagnosis"),
    ],
)
def test_a_bad_record_is_422_and_stores_nothing(stmarys, body, field):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)

    response = post(
        stmarys.api(doctor), "/api/treatments/record/", {"patient_id": patient["id"], "diagnosis": "Asthma", **body}
    )

    assert response.status_code == 422, response.content
    assert any(field in error["loc"] for error in response.json()["detail"]), response.json()
    with schema_context(stmarys.schema):
        assert not TreatmentRecord.objects.filter(patient_id=patient["id"]).exists()


def test_doctors_search_only_their_assigned_patients(stmarys, other_doctor):
    doctor = stmarys.user(Role.DOCTOR)
    mine = register(stmarys, full_name="Zebedee Mine")
    register(stmarys, full_name="Zebedee Other", date_of_birth="1991-01-01")
    assign(stmarys, mine["id"], doctor)

    found = stmarys.api(doctor).get("/api/patients/?search=zebedee").json()
    nothing = stmarys.api(other_doctor).get("/api/patients/?search=zebedee").json()
    everyone = stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/patients/?search=zebedee").json()

    assert [p["id"] for p in found["items"]] == [mine["id"]]
    assert nothing["count"] == 0
    assert everyone["count"] == 2


def test_break_glass_opens_a_patient_for_a_limited_time_and_is_flagged(stmarys, other_doctor):
    patient = register(stmarys)
    client = stmarys.api(other_doctor)
    assert client.get(f"/api/patients/{patient['id']}/").status_code == 403

    short = post(client, f"/api/patients/{patient['id']}/break-glass/", {"reason": "no"})
    opened = post(
        client, f"/api/patients/{patient['id']}/break-glass/", {"reason": "Unconscious in the emergency department"}
    )

    assert short.status_code == 422
    assert opened.status_code == 201
    hours = (
        dt.datetime.fromisoformat(opened.json()["expires_at"]) - dt.datetime.fromisoformat(opened.json()["opened_at"])
    ).total_seconds() / 3600
    assert round(hours) == stmarys.hospital.break_glass_hours == 4
    profile = client.get(f"/api/patients/{patient['id']}/")
    assert profile.status_code == 200
    assert profile.json()["access"] == "break_glass"
    with schema_context(stmarys.schema):
        flagged = AuditEvent.objects.filter(patient_id=patient["id"], break_glass=True)
        assert {e.action for e in flagged} >= {"break_glass", "view_profile"}
    review = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN)).get("/api/break-glass/").json()
    assert [a["patient_id"] for a in review] == [patient["id"]]


def test_break_glass_ends_when_it_expires(stmarys, other_doctor):
    patient = register(stmarys)
    client = stmarys.api(other_doctor)
    post(client, f"/api/patients/{patient['id']}/break-glass/", {"reason": "Unconscious in the emergency department"})
    with schema_context(stmarys.schema):
        BreakGlassAccess.objects.filter(doctor=other_doctor).update(expires_at=timezone.now())

    assert client.get(f"/api/patients/{patient['id']}/").status_code == 403


def test_doctors_change_allergies_but_not_demographics(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)

    allowed = patch(stmarys.api(doctor), f"/api/patients/{patient['id']}/", {"allergies": [{"substance": "Latex"}]})
    refused = patch(stmarys.api(doctor), f"/api/patients/{patient['id']}/", {"phone": "+442079460018"})

    assert allowed.status_code == 200
    assert allowed.json()["allergies"][0]["substance"] == "Latex"
    assert refused.status_code == 403
    assert "phone" in refused.json()["detail"]


def test_a_patient_of_another_branch_is_404_everywhere(stmarys, riverside):
    theirs = register(riverside)
    admin = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))

    assert admin.get(f"/api/patients/{theirs['id']}/").status_code == 404
    assert admin.get(f"/api/patients/{theirs['id']}/timeline/").status_code == 404
    assert patch(admin, f"/api/patients/{theirs['id']}/", {"full_name": "X"}).status_code == 404
    assert admin.get(f"/api/patients/?search={theirs['mrn']}").json()["count"] == 0


def test_a_denied_read_is_in_the_audit_trail(stmarys, other_doctor):
    patient = register(stmarys)

    response = stmarys.api(other_doctor).get(f"/api/patients/{patient['id']}/")

    assert response.status_code == 403
    with schema_context(stmarys.schema):
        denied = AuditEvent.objects.get(patient_id=patient["id"], outcome="denied")
        assert denied.actor_id == other_doctor.pk
        assert denied.action == "view_profile"
        assert denied.address == "127.0.0.1"


def test_a_follow_up_is_on_the_front_desks_list_until_it_is_settled(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    made = record(stmarys, doctor, patient["id"], follow_up={"in_days": 14, "note": "Review the cough"})
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))

    listed = desk.get("/api/follow-ups/").json()
    settled = desk.post(f"/api/follow-ups/{made['id']}/done/")
    again = desk.post(f"/api/follow-ups/{made['id']}/done/")

    assert [(f["patient"]["mrn"], f["note"]) for f in listed["items"]] == [(patient["mrn"], "Review the cough")]
    assert listed["items"][0]["due_on"] == made["follow_up_on"]
    assert settled.status_code == 204
    assert again.status_code == 404
    assert desk.get("/api/follow-ups/").json()["count"] == 0
