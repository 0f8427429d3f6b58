"""The corners where a clinical system usually breaks: addresses and text that change form on
their way into PostgreSQL, pages far past the end, late autosaves, refusals that must still be
recorded, and two desks registering one person at the same moment."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.audit import audit_chain_verify, audit_record
from clinical.models import AuditEvent, Patient, RecordDraft
from tests.clinical.conftest import assign, patch, post, record, register
from tests.clinical.test_doctor_pages import form, url


@pytest.mark.django_db
def test_the_chain_holds_for_addresses_and_text_postgresql_rewrites(stmarys):
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        for address in ["::ffff:10.0.0.5", "::ffff:a00:5", "2001:0db8:0000:0000:0000:0000:0000:0001", "10.1.2.3"]:
            audit_record(actor=None, action="view_profile", address=address, note="Ωμέγα — अनीता 💉", n=12345678901234)

        assert list(audit_chain_verify()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"full_name": "\u0958" * 200}, "full_name"),  # NFC decomposes each into two characters
        ({"identifiers": [{"type": "passport", "value": "ß" * 33}]}, "identifiers"),  # upper-cases to "SS"
    ],
)
def test_text_that_grows_when_normalised_is_refused_not_a_500(stmarys, fields, field):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    body = {"full_name": "A", "gender": "female", "date_of_birth": "1990-01-01", **fields}

    response = post(desk, "/api/patients/", body)

    assert response.status_code == 422, response.content
    assert any(field in error["loc"] for error in response.json()["detail"])


@pytest.mark.django_db
def test_a_name_whose_search_key_is_long_is_stored_and_found(stmarys):
    patient = register(stmarys, full_name="\ufdfa" * 30)  # each is 18 letters once decomposed

    found = stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/patients/", {"search": "\ufdfa"}).json()

    assert patient["id"] in [p["id"] for p in found["items"]]


@pytest.mark.django_db
def test_pages_far_past_the_end_are_422(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    huge = "1000000000000000000"

    timeline = stmarys.api(doctor).get(f"/api/patients/{patient['id']}/timeline/", {"page": huge})
    follow_ups = stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/follow-ups/", {"page": huge})
    search = stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/patients/", {"page": huge})

    assert (timeline.status_code, follow_ups.status_code, search.status_code) == (422, 422, 422)


@pytest.mark.django_db
def test_a_draft_with_a_nul_is_kept_without_it(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)

    response = stmarys.client(doctor).post(url("record_draft", patient["id"]), form(diagnosis="Whee\x00ze"))

    assert response.status_code == 200
    with schema_context(stmarys.schema):
        assert "Wheeze" in json.dumps(RecordDraft.objects.get(doctor=doctor).data)


@pytest.mark.django_db
def test_a_late_autosave_does_not_bring_back_the_draft_of_a_saved_record(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    client = stmarys.client(doctor)
    page = client.get(url("record_new", patient["id"])).content.decode()
    opened_at = page.split('name="opened_at" value="')[1].split('"')[0]

    client.post(url("record_new", patient["id"]), form(diagnosis="Wheeze", opened_at=opened_at))
    late = client.post(url("record_draft", patient["id"]), form(diagnosis="Wheeze", opened_at=opened_at))

    assert late.status_code == 200
    assert "Saved as a record already" in late.content.decode()
    with schema_context(stmarys.schema):
        assert not RecordDraft.objects.filter(doctor=doctor).exists()


@pytest.mark.django_db
def test_the_audit_page_takes_the_last_possible_day(stmarys):
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))

    assert admin.get("/audit/", {"date_to": "9999-12-31"}).status_code == 200
    assert admin.get("/audit/export.csv", {"date_to": "9999-12-31"}).status_code == 200


@pytest.mark.django_db
def test_receptionists_do_not_read_the_medical_history(stmarys):
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    history = {"chronic_conditions": "Type 2 diabetes", "current_medication": "Metformin"}

    created = post(
        desk,
        "/api/patients/",
        {"full_name": "Ruth Bell", "gender": "female", "date_of_birth": "1950-01-01", "medical_history": history},
    ).json()
    profile = desk.get(f"/api/patients/{created['id']}/").json()
    page = stmarys.client(stmarys.user(Role.RECEPTIONIST)).get(f"/patients/{created['id']}/").content.decode()
    admin_profile = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN)).get(f"/api/patients/{created['id']}/").json()

    assert created["medical_history"] is None
    assert profile["medical_history"] is None
    assert "Metformin" not in page
    assert admin_profile["medical_history"]["current_medication"] == "Metformin"
    assert patch(desk, f"/api/patients/{created['id']}/", {"medical_history": {"notes": "x"}}).status_code == 403


@pytest.mark.django_db
def test_refusals_outside_the_access_check_are_recorded(stmarys, other_doctor):
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys)
    assign(stmarys, patient["id"], doctor)
    assign(stmarys, patient["id"], other_doctor)
    made = record(stmarys, doctor, patient["id"])

    pages = stmarys.client(doctor).get(f"/patients/{patient['id']}/doctors/")
    demographics = patch(stmarys.api(doctor), f"/api/patients/{patient['id']}/", {"phone": "+442079460018"})
    correction = post(
        stmarys.api(other_doctor),
        f"/api/treatments/record/{made['id']}/correct/",
        {"diagnosis": "x", "correction_reason": "not mine"},
    )

    assert (pages.status_code, demographics.status_code, correction.status_code) == (403, 403, 403)
    with schema_context(stmarys.schema):
        denied = AuditEvent.objects.filter(patient_id=patient["id"], outcome="denied")
        assert sorted(denied.values_list("action", flat=True)) == ["assign", "correct", "update"]


def test_two_desks_registering_one_person_at_once_make_one_patient(committed):
    stmarys = committed.branch("stmarys")
    token = stmarys.token(stmarys.user(Role.RECEPTIONIST))
    body = {"full_name": "Simultaneous Sam", "gender": "male", "date_of_birth": "1944-04-04"}
    answers: list[int] = []
    barrier = threading.Barrier(2)

    def register_once() -> None:
        client = Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        answers.append(post(client, "/api/patients/", body).status_code)
        connection.close()

    def remove() -> None:
        with schema_context(stmarys.schema):
            Patient.objects.filter(full_name="Simultaneous Sam").delete()

    committed.cleanup(remove)
    threads = [threading.Thread(target=register_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [201, 409]
    with schema_context(stmarys.schema):
        assert Patient.objects.filter(full_name="Simultaneous Sam").count() == 1


@pytest.mark.django_db
def test_a_doctor_finds_an_unassigned_patient_only_to_open_by_break_glass(stmarys, other_doctor):
    patient = register(stmarys, full_name="Ngozi Okafor", date_of_birth="1960-02-02")
    doctor_page = stmarys.client(other_doctor).get("/patients/", {"search": "okafor"}).content.decode()
    desk_page = stmarys.client(stmarys.user(Role.RECEPTIONIST)).get("/patients/", {"search": "okafor"}).content.decode()

    assert "None of your patients matches" in doctor_page
    assert f"/patients/{patient['id']}/break-glass/" in doctor_page
    assert f'href="/patients/{patient["id"]}/"' not in doctor_page  # no way in but break-glass
    assert 'id="not-attended"' not in desk_page


@pytest.mark.django_db
def test_phone_numbers_keep_their_order_on_right_to_left_pages(stmarys):
    patient = register(stmarys, phone="020 7946 0018")
    page = stmarys.client(stmarys.user(Role.RECEPTIONIST)).get(f"/patients/{patient['id']}/").content.decode()

    assert '<bdi dir="ltr">020 7946 0018</bdi>' in page


@pytest.mark.django_db
def test_two_treatments_cannot_share_a_name(stmarys):
    admin_api = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))
    post(admin_api, "/api/treatments/", {"name": "ECG", "code": "ECG"})

    again = post(admin_api, "/api/treatments/", {"name": "ecg", "code": "ECG2"})
    page = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN)).post(
        "/treatments/", {"name": "Ecg", "code": "ECG3", "duration_minutes": "15", "active": "on"}
    )

    assert again.status_code == 409
    assert again.json()["field"] == "name"
    assert page.status_code == 409
    assert "Another treatment has this name." in page.content.decode()
