"""The front desk's pages: search as you type, registration, the profile, changes, follow-ups;
what each role sees there, and what it does not."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical import services
from clinical.models import AuditEvent, Patient, TreatmentRecord
from tests.clinical.conftest import register

pytestmark = pytest.mark.django_db

DIAGNOSIS = "Community-acquired pneumonia, right lower lobe"


def html(response) -> str:
    return response.content.decode()


def desk(branch):
    return branch.client(branch.user(Role.RECEPTIONIST))


def patients_in(branch) -> int:
    with schema_context(branch.schema):
        return Patient.objects.count()


def field_error(page: str, name: str) -> str:
    """The error shown right after the input ``name``, before the next label: next to it."""
    start = page.index(f'id="id_{name}"')
    end = page.find("<label", start)
    block = page[start : end if end > 0 else None]
    found = re.search(r'class="invalid-feedback[^"]*">([^<]*)<', block)
    return found.group(1) if found else ""


def form_body(**fields) -> dict:
    return {"full_name": "Amelia Hart", "gender": "female", "date_of_birth": "1990-04-02", **fields}


def treated_patient(branch) -> tuple[dict, TreatmentRecord]:
    """A patient with an assigned doctor who has recorded a diagnosis."""
    patient = register(branch, full_name="Walter Brennan", date_of_birth="1950-06-01")
    doctor = branch.user(Role.DOCTOR)
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        row = Patient.objects.get(pk=patient["id"])
        services.patient_assign_doctor(patient=row, doctor=doctor, actor=branch.user(Role.HOSPITAL_ADMIN))
        record = services.treatment_record_create(
            doctor=doctor,
            patient=row,
            data={"diagnosis": DIAGNOSIS, "clinical_notes": "Crackles at the right base.", "follow_up": {"in_days": 7}},
        )
    return patient, record


# --- search ---------------------------------------------------------------------------------------


def test_search_finds_a_name_fragment_typed_without_accents(stmarys):
    patient = register(stmarys, full_name="José Núñez", date_of_birth="1980-05-05")

    response = desk(stmarys).get("/patients/", {"search": "nunez"})

    assert response.status_code == 200
    assert "José Núñez" in html(response)
    assert patient["mrn"] in html(response)
    assert "autofocus" in html(response)


def test_search_as_you_type_answers_only_the_results(stmarys):
    register(stmarys, full_name="José Núñez", date_of_birth="1980-05-05")

    response = desk(stmarys).get("/patients/", {"search": "jos"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "José Núñez" in html(response)
    assert "<html" not in html(response)


@pytest.mark.parametrize("typed", ["+44 20 7946 0018", "02079460018", "020-7946-0018"])
def test_search_finds_a_phone_number_typed_another_way(stmarys, typed):
    register(stmarys, full_name="Amelia Hart", phone="020 7946 0018")

    response = desk(stmarys).get("/patients/", {"search": typed})

    assert "Amelia Hart" in html(response)


def test_everyone_on_a_shared_phone_shows_with_a_hint(stmarys):
    register(stmarys, full_name="Mary Hill", date_of_birth="1985-03-03", phone="020 7946 0999")
    register(stmarys, full_name="Lucy Hill", date_of_birth="2015-03-03", phone="+442079460999")

    page = html(desk(stmarys).get("/patients/", {"search": "02079460999"}))

    assert "Mary Hill" in page
    assert "Lucy Hill" in page
    assert page.count("shares phone with 1 other") == 2


def test_enter_with_exactly_one_match_opens_the_profile(stmarys):
    patient = register(stmarys, full_name="José Núñez", date_of_birth="1980-05-05")
    client = desk(stmarys)

    response = client.get("/patients/", {"search": "núñez", "open": "1"})

    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient['id']}/"


def test_enter_with_several_matches_stays_on_the_results(stmarys):
    register(stmarys, full_name="Mary Hill", date_of_birth="1985-03-03")
    register(stmarys, full_name="Lucy Hill", date_of_birth="2015-03-03")

    response = desk(stmarys).get("/patients/", {"search": "hill", "open": "1"})

    assert response.status_code == 200
    assert "2 patients match" in html(response)


def test_no_match_offers_registration_with_the_name_filled_in(stmarys):
    client = desk(stmarys)

    page = html(client.get("/patients/", {"search": "Zebedee Quill"}))

    assert "No patient matches" in page
    link = re.search(r'id="register-new" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert link == "/patients/new/?full_name=Zebedee+Quill"
    form = html(client.get(link))
    assert 'value="Zebedee Quill"' in form


def test_no_match_on_a_phone_number_fills_in_the_phone(stmarys):
    client = desk(stmarys)

    page = html(client.get("/patients/", {"search": "020 7946 0555"}))

    link = re.search(r'id="register-new" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert link == "/patients/new/?phone=020+7946+0555"
    form = html(client.get(link))
    assert re.search(r'name="phone" value="020 7946 0555"', form)
    assert re.search(r'name="full_name" value=""', form) is None


def test_doctors_see_only_their_patients_and_no_register_link(stmarys):
    mine, _record = treated_patient(stmarys)
    other = register(stmarys, full_name="Wanda Brennan", date_of_birth="1952-01-01")
    doctor = stmarys.client(stmarys.user(Role.DOCTOR))

    page = html(doctor.get("/patients/", {"search": "brennan"}))

    results, not_attended = page.split('id="not-attended"')
    assert mine["mrn"] in results
    assert "Wanda Brennan" not in results
    # Someone else's patient is named only to be opened by break-glass, never linked directly.
    assert "Wanda Brennan" in not_attended
    assert f'href="/patients/{other["id"]}/"' not in page
    assert "Register new patient" not in html(doctor.get("/patients/", {"search": "nobody at all"}))
    assert doctor.get("/patients/new/").status_code == 403


def test_patients_and_strangers_do_not_reach_the_search(stmarys):
    assert stmarys.client(stmarys.user(Role.PATIENT)).get("/patients/").status_code == 403
    assert stmarys.client().get("/patients/").status_code == 302


# --- registration ---------------------------------------------------------------------------------


def test_registration_saves_and_opens_the_profile_with_the_mrn(stmarys):
    client = desk(stmarys)

    response = client.post(
        "/patients/new/",
        form_body(
            phone="020 7946 0018",
            contact_name="Tom Hart",
            contact_relation="husband",
            contact_phone="+44 7911 123456",
            identifier_type_0="passport",
            identifier_value_0="ab 123-456",
            allergies="Penicillin: rash (severe)\nLatex",
            chronic_conditions="Asthma",
        ),
        follow=True,
    )

    assert response.status_code == 200
    with schema_context(stmarys.schema):
        patient = Patient.objects.get(full_name="Amelia Hart")
        allergies = {(a.substance, a.reaction, a.severity) for a in patient.allergies.all()}
        assert patient.phone == "+442079460018"
        assert patient.contact_phone == "+447911123456"
        assert [i.value for i in patient.identifiers.all()] == ["ab 123-456"]
    assert allergies == {("Penicillin", "rash", "severe"), ("Latex", "", "unknown")}
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    assert f"registered with MRN {patient.mrn}" in html(response)


def test_registration_by_age_estimates_the_birth_date(stmarys):
    response = desk(stmarys).post(
        "/patients/new/", form_body(full_name="Baby Hart", date_of_birth="", age_value="10", age_unit="days")
    )

    assert response.status_code == 302
    with schema_context(stmarys.schema):
        assert Patient.objects.get(full_name="Baby Hart").date_of_birth_estimated is True


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"phone": "12"}, "phone", "Not a valid phone number"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "in the future"),
        ({"date_of_birth": "", "age_value": "131"}, "age_value", "Between 0 and 130"),
        ({"contact_phone": "nope"}, "contact_phone", "Not a valid phone number"),
        ({"identifier_type_1": "passport", "identifier_value_1": ""}, "identifier_value_1", "required"),
        ({"full_name": ""}, "full_name", "A name is required"),
        ({"gender": ""}, "gender", "Must be one of"),
    ],
)
def test_a_bad_field_is_shown_next_to_it_and_nothing_is_stored(stmarys, fields, field, message):
    before = patients_in(stmarys)

    response = desk(stmarys).post("/patients/new/", form_body(**fields))

    assert response.status_code == 422
    assert message in field_error(html(response), field)
    assert patients_in(stmarys) == before


def test_a_bad_allergy_line_names_its_line(stmarys):
    response = desk(stmarys).post("/patients/new/", form_body(allergies="Penicillin\n\nLatex\npenicillin: hives"))

    assert response.status_code == 422
    assert "Line 4: The same allergy is listed twice." in field_error(html(response), "allergies")


def test_a_possible_duplicate_is_offered_and_registering_anyway_works(stmarys):
    existing = register(stmarys, full_name="José Núñez", date_of_birth="1980-05-05")
    client = desk(stmarys)
    before = patients_in(stmarys)

    prompt = client.post("/patients/new/", form_body(full_name="jose nunez", date_of_birth="1980-05-05"))

    assert prompt.status_code == 409
    page = html(prompt)
    assert 'id="duplicate-prompt"' in page
    assert f'href="/patients/{existing["id"]}/">Open existing' in page
    assert 'value="jose nunez"' in page, "what was typed stays in the form"
    assert patients_in(stmarys) == before

    confirmed = client.post(
        "/patients/new/", form_body(full_name="jose nunez", date_of_birth="1980-05-05", confirm_new="1")
    )

    assert confirmed.status_code == 302
    assert patients_in(stmarys) == before + 1


def test_a_taken_identifier_cannot_be_registered_anyway(stmarys):
    register(stmarys, full_name="Ann Lee", identifiers=[{"type": "national_id", "value": "QQ123456C"}])

    response = desk(stmarys).post(
        "/patients/new/",
        form_body(full_name="Bob Stone", identifier_type_0="national_id", identifier_value_0="qq 12 34 56 c"),
    )

    assert response.status_code == 409
    assert "Ann Lee" in html(response)
    assert 'id="confirm-new"' not in html(response)


def test_the_shared_phone_is_named_after_registration(stmarys):
    register(stmarys, full_name="Mary Hill", date_of_birth="1985-03-03", phone="020 7946 0999")

    response = desk(stmarys).post(
        "/patients/new/", form_body(full_name="Lucy Hill", date_of_birth="2015-03-03", phone="02079460999"), follow=True
    )

    assert "The same phone number is registered for: Mary Hill" in html(response)


# --- the profile ----------------------------------------------------------------------------------


def test_a_receptionist_sees_the_visit_but_not_the_diagnosis_an_admin_sees(stmarys):
    patient, _record = treated_patient(stmarys)
    url = f"/patients/{patient['id']}/"

    as_admin = html(stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN)).get(url))
    as_desk = html(desk(stmarys).get(url))

    assert DIAGNOSIS in as_admin
    assert "Crackles at the right base." in as_admin
    assert DIAGNOSIS not in as_desk
    assert "Crackles" not in as_desk
    assert as_desk.count('class="card mb-2 record-card"') == 1, "the visit itself shows"
    assert "Doctor of stmarys" in as_desk


def test_the_assigned_doctor_sees_the_record_and_the_profile_read_is_audited(stmarys):
    patient, _record = treated_patient(stmarys)

    response = stmarys.client(stmarys.user(Role.DOCTOR)).get(f"/patients/{patient['id']}/")

    assert response.status_code == 200
    assert DIAGNOSIS in html(response)
    assert "Edit allergies and history" in html(response)
    with schema_context(stmarys.schema):
        assert AuditEvent.objects.filter(
            patient_id=patient["id"], action=AuditEvent.Action.VIEW_PROFILE, actor_id=stmarys.user(Role.DOCTOR).pk
        ).exists()


def test_a_doctor_not_assigned_gets_403_and_the_refusal_is_recorded(stmarys, other_doctor):
    patient, _record = treated_patient(stmarys)

    response = stmarys.client(other_doctor).get(f"/patients/{patient['id']}/")

    assert response.status_code == 403
    assert DIAGNOSIS not in html(response)
    with schema_context(stmarys.schema):
        assert AuditEvent.objects.filter(
            patient_id=patient["id"], actor_id=other_doctor.pk, outcome=AuditEvent.Outcome.DENIED
        ).exists()


def test_a_patient_of_another_branch_is_404(stmarys, riverside):
    patient = register(stmarys)

    for role in (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST):
        client = riverside.client(riverside.user(role))
        assert client.get(f"/patients/{patient['id']}/").status_code == 404
        assert client.get(f"/patients/{patient['id']}/edit/").status_code == 404
    assert desk(stmarys).get(f"/patients/{uuid.uuid4()}/").status_code == 404


def test_the_profile_shows_details_tabs_and_no_appointments_yet(stmarys):
    patient = register(
        stmarys,
        phone="020 7946 0018",
        allergies=[{"substance": "Penicillin", "reaction": "rash", "severity": "severe"}],
        medical_history={"chronic_conditions": "Type 2 diabetes"},
        identifiers=[{"type": "passport", "value": "AB123456"}],
    )

    page = html(desk(stmarys).get(f"/patients/{patient['id']}/"))

    assert 'id="patient-banner"' in page
    for text in (
        "Penicillin",
        "rash",
        "Severe",
        "AB123456",
        "020 7946 0018",
        "No appointments yet.",
    ):
        assert text in page
    assert 'id="tab-treatments"' in page
    assert "Edit details" in page
    # The medical history is clinical: the desk takes it down but does not read it back.
    assert "Type 2 diabetes" not in page
    admin_page = html(stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN)).get(f"/patients/{patient['id']}/"))
    assert "Type 2 diabetes" in admin_page


def test_the_timeline_is_paginated(stmarys):
    patient, _record = treated_patient(stmarys)
    doctor = stmarys.user(Role.DOCTOR)
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        row = Patient.objects.get(pk=patient["id"])
        for n in range(11):
            services.treatment_record_create(doctor=doctor, patient=row, data={"diagnosis": f"Visit {n}"})
    client = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))

    first = html(client.get(f"/patients/{patient['id']}/"))
    second = html(client.get(f"/patients/{patient['id']}/", {"tab": "treatments", "page": "2"}))

    assert first.count("record-card") == 10
    assert second.count("record-card") == 2
    assert "Page 2 of 2" in second


# --- changing details -------------------------------------------------------------------------------


def test_a_receptionist_changes_the_phone_and_only_that_is_sent(stmarys):
    patient = register(stmarys, phone="020 7946 0018", allergies=[{"substance": "Latex"}])
    client = desk(stmarys)
    form = html(client.get(f"/patients/{patient['id']}/edit/"))
    assert 'value="+442079460018"' in form

    response = client.post(
        f"/patients/{patient['id']}/edit/", form_body(phone="020 7946 0777", allergies="Latex"), follow=True
    )

    assert response.status_code == 200
    assert "are saved" in html(response)
    with schema_context(stmarys.schema):
        assert Patient.objects.get(pk=patient["id"]).phone == "+442079460777"
        event = AuditEvent.objects.filter(patient_id=patient["id"], action=AuditEvent.Action.UPDATE).get()
        assert event.detail["fields"] == ["phone"]


def test_a_doctor_edits_only_allergies_and_history(stmarys):
    patient, _record = treated_patient(stmarys)
    client = stmarys.client(stmarys.user(Role.DOCTOR))

    form = html(client.get(f"/patients/{patient['id']}/edit/"))
    assert 'name="allergies"' in form
    assert 'name="phone"' not in form
    assert 'name="full_name"' not in form

    response = client.post(
        f"/patients/{patient['id']}/edit/", {"allergies": "Aspirin: wheeze (moderate)", "full_name": "Someone Else"}
    )

    assert response.status_code == 302
    with schema_context(stmarys.schema):
        row = Patient.objects.get(pk=patient["id"])
        assert row.full_name == "Walter Brennan"
        assert [(a.substance, a.reaction, a.severity) for a in row.allergies.all()] == [
            ("Aspirin", "wheeze", "moderate")
        ]


def test_an_edit_with_a_bad_field_is_422_next_to_it(stmarys):
    patient = register(stmarys)

    response = desk(stmarys).post(f"/patients/{patient['id']}/edit/", form_body(email="not-an-address"))

    assert response.status_code == 422
    assert "Not a valid e-mail address." in field_error(html(response), "email")


# --- follow-ups -----------------------------------------------------------------------------------


def test_follow_ups_are_listed_for_the_desk_and_done_takes_them_off(stmarys):
    _patient, record = treated_patient(stmarys)
    with schema_context(stmarys.schema):
        TreatmentRecord.objects.filter(pk=record.pk).update(follow_up_on=timezone.localdate() - timedelta(days=2))
    client = desk(stmarys)

    page = html(client.get("/follow-ups/"))
    assert "Walter Brennan" in page
    assert "Overdue" in page
    assert DIAGNOSIS not in page

    response = client.post("/follow-ups/", {"record": str(record.pk)}, follow=True)

    assert "marked as done" in html(response)
    assert 'id="no-follow-ups"' in html(response)
    with schema_context(stmarys.schema):
        assert TreatmentRecord.objects.get(pk=record.pk).follow_up_done_at is not None


def test_doctors_do_not_open_the_follow_ups(stmarys):
    assert stmarys.client(stmarys.user(Role.DOCTOR)).get("/follow-ups/").status_code == 403
