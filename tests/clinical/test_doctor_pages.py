"""The doctor's pages: the record screen, drafts, corrections and break-glass, as a doctor (and
everyone else) would meet them in the dashboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import BreakGlassAccess, RecordDraft, TreatmentRecord
from tests.clinical.conftest import assign, post, record, register

pytestmark = pytest.mark.django_db

LINE = {
    "medicine": "Salbutamol",
    "strength": "100 mcg",
    "dose": "2 puffs",
    "frequency": "when needed",
    "duration": "30 days",
    "instructions": "Shake well",
}
BLANK = dict.fromkeys(LINE, "")


def url(name: str, *args) -> str:
    return reverse(f"clinical:{name}", args=args)


def form(lines: list[dict] = (), **fields) -> dict:
    """What the record form posts: its fields, and each line's cells under the same names."""
    data = {
        "treatment": "",
        "diagnosis": "",
        "icd10_code": "",
        "clinical_notes": "",
        "patient_advice": "",
        "follow_up_in_days": "",
        "follow_up_on": "",
        "follow_up_note": "",
        **fields,
    }
    for name in LINE:
        data[f"line-{name}"] = [line[name] for line in lines]
    return data


def rows(html: str) -> list[str]:
    """The prescription lines of the form, as HTML (the empty <template> line left out)."""
    html = html.split('<template id="line-template">')[0]
    return html.split('<tr class="prescription-line">')[1:]


def records_of(branch, patient_id: str) -> list[TreatmentRecord]:
    with schema_context(branch.schema):
        return list(
            TreatmentRecord.objects.filter(patient_id=patient_id)
            .prefetch_related("prescription__lines")
            .order_by("version")
        )


@pytest.fixture
def doctor(stmarys):
    return stmarys.user(Role.DOCTOR)


@pytest.fixture
def patient(stmarys, doctor) -> dict:
    """A patient of the branch's doctor."""
    registered = register(stmarys, allergies=[{"substance": "Penicillin", "severity": "severe"}])
    assign(stmarys, registered["id"], doctor)
    return registered


# --- the record screen ---------------------------------------------------------------------------------


def test_the_record_screen_shows_the_banner_the_last_prescription_and_the_recent_visits(stmarys, doctor, patient):
    record(stmarys, doctor, patient["id"], diagnosis="Asthma, mild", prescriptions=[LINE])

    response = stmarys.client(doctor).get(url("record_new", patient["id"]))

    assert response.status_code == 200
    html = response.content.decode()
    assert patient["mrn"] in html
    assert "Penicillin" in html
    assert 'id="repeat-prescription"' in html
    assert re.search(r'<script id="last-prescription" type="application/json">\[\{"medicine": "Salbutamol"', html)
    assert 'class="card mb-2 record-card"' in html
    assert "Asthma, mild" in html


def test_a_saved_record_appears_on_the_timeline(stmarys, doctor, patient):
    admin = stmarys.api(stmarys.user(Role.HOSPITAL_ADMIN))
    consultation = post(admin, "/api/treatments/", {"name": "Consultation", "code": "CONS"}).json()
    client = stmarys.client(doctor)

    response = client.post(
        url("record_new", patient["id"]),
        form(
            [LINE, {**LINE, "medicine": "Prednisolone", "strength": "5 mg", "instructions": ""}],
            treatment=consultation["id"],
            diagnosis="Acute asthma",
            icd10_code="j45.901",
            clinical_notes="Wheeze both lungs",
            patient_advice="Avoid smoke.",
            follow_up_in_days="14",
            follow_up_note="review",
        ),
    )

    assert response.status_code == 302
    assert response.url == url("patient_profile", patient["id"]) + "?tab=treatments"
    (saved,) = records_of(stmarys, patient["id"])
    assert saved.icd10_code == "J45.901"
    assert saved.follow_up_on == timezone.localdate() + dt.timedelta(days=14)
    assert [line.medicine for line in saved.prescription.lines.all()] == ["Salbutamol", "Prednisolone"]
    page = client.get(url("record_new", patient["id"])).content.decode()
    assert "The record is saved." in page
    assert "Acute asthma" in page
    assert "Prednisolone" in page
    assert "Consultation" in page


def test_an_invalid_line_shows_its_error_on_that_line_and_nothing_is_stored(stmarys, doctor, patient):
    # given a complete line, a line left blank (dropped) and a line without its dose
    lines = [LINE, BLANK, {**LINE, "medicine": "Prednisolone", "dose": ""}]

    response = stmarys.client(doctor).post(url("record_new", patient["id"]), form(lines, diagnosis="Acute asthma"))

    assert response.status_code == 422
    first, second = rows(response.content.decode())
    assert "invalid-feedback" not in first
    dose_cell = re.search(r'<td class="line-dose">(.*?)</td>', second, re.S).group(1)
    assert "is-invalid" in dose_cell
    assert "This field is required." in dose_cell
    assert 'value="Prednisolone"' in second
    assert records_of(stmarys, patient["id"]) == []


def test_an_empty_record_and_a_bad_code_are_refused_next_to_their_fields(stmarys, doctor, patient):
    client = stmarys.client(doctor)

    empty = client.post(url("record_new", patient["id"]), form())
    bad_code = client.post(url("record_new", patient["id"]), form(diagnosis="Asthma", icd10_code="asthma"))

    assert empty.status_code == 422
    assert "The record is empty" in empty.content.decode()
    assert bad_code.status_code == 422
    assert re.search(
        r'name="icd10_code"[^>]*class="form-control is-invalid"|class="form-control is-invalid"[^>]*'
        r'name="icd10_code"',
        bad_code.content.decode(),
    )
    assert records_of(stmarys, patient["id"]) == []


# --- drafts -------------------------------------------------------------------------------------------


def test_a_draft_is_saved_as_the_doctor_types_and_restored_when_the_screen_opens_again(stmarys, doctor, patient):
    client = stmarys.client(doctor)

    saved = client.post(url("record_draft", patient["id"]), form([LINE], diagnosis="Wheeze, query asthma"))
    page = client.get(url("record_new", patient["id"])).content.decode()

    assert saved.status_code == 200
    assert "Draft saved" in saved.content.decode()
    assert "Restored your unsaved draft from" in page
    assert "Wheeze, query asthma</textarea>" in page
    (line,) = rows(page)
    assert 'value="Salbutamol"' in line


def test_discarding_a_draft_empties_the_form(stmarys, doctor, patient):
    client = stmarys.client(doctor)
    client.post(url("record_draft", patient["id"]), form(diagnosis="Wheeze"))
    record_url = url("record_new", patient["id"])

    response = client.post(url("record_draft", patient["id"]), {"discard": "1", "next": record_url})
    page = client.get(record_url).content.decode()

    assert response.status_code == 302
    assert response.url == record_url
    assert "Restored your unsaved draft" not in page
    assert "Wheeze" not in page


def test_saving_the_record_removes_its_draft(stmarys, doctor, patient):
    client = stmarys.client(doctor)
    client.post(url("record_draft", patient["id"]), form(diagnosis="Wheeze"))

    client.post(url("record_new", patient["id"]), form(diagnosis="Wheeze"))

    with schema_context(stmarys.schema):
        assert not RecordDraft.objects.filter(patient_id=patient["id"]).exists()
    assert "Restored your unsaved draft" not in client.get(url("record_new", patient["id"])).content.decode()


# --- corrections --------------------------------------------------------------------------------------


def test_a_correction_creates_version_2_and_the_old_version_stays_visible(stmarys, doctor, patient):
    first = record(stmarys, doctor, patient["id"], diagnosis="Asthma, mild", prescriptions=[LINE])
    client = stmarys.client(doctor)

    opened = client.get(url("record_correct", first["id"]))
    response = client.post(
        url("record_correct", first["id"]),
        form([LINE], diagnosis="Asthma, moderate", icd10_code="J45.40", correction_reason="Wrong severity"),
    )

    assert opened.status_code == 200
    assert "Asthma, mild</textarea>" in opened.content.decode()
    assert 'value="Salbutamol"' in rows(opened.content.decode())[0]
    assert response.status_code == 302
    old, new = records_of(stmarys, patient["id"])
    assert (old.version, old.is_current, new.version, new.is_current) == (1, False, 2, True)
    assert new.correction_reason == "Wrong severity"
    page = client.get(url("record_new", patient["id"])).content.decode()
    assert "Corrected (version 2)" in page
    assert "Asthma, moderate" in page
    earlier = page.split('class="mt-2 earlier-version"')[1]
    assert "Asthma, mild" in earlier


def test_a_correction_needs_a_reason(stmarys, doctor, patient):
    first = record(stmarys, doctor, patient["id"])

    response = stmarys.client(doctor).post(url("record_correct", first["id"]), form(diagnosis="Asthma, moderate"))

    assert response.status_code == 422
    assert re.search(r'class="form-control is-invalid"[^>]*id="id_correction_reason"', response.content.decode())
    assert len(records_of(stmarys, patient["id"])) == 1


def test_correcting_an_old_version_leads_to_the_newest(stmarys, doctor, patient):
    first = record(stmarys, doctor, patient["id"])
    client = stmarys.client(doctor)
    client.post(url("record_correct", first["id"]), form(diagnosis="Asthma", correction_reason="Typo"))
    newest = records_of(stmarys, patient["id"])[-1]

    response = client.post(url("record_correct", first["id"]), form(diagnosis="Asthma!", correction_reason="Again"))

    assert response.status_code == 302
    assert response.url == url("record_correct", newest.pk)
    assert len(records_of(stmarys, patient["id"])) == 2
    assert "corrected since" in client.get(response.url).content.decode()


def test_only_the_author_corrects_a_record(stmarys, doctor, patient, other_doctor):
    first = record(stmarys, doctor, patient["id"])
    assign(stmarys, patient["id"], other_doctor)
    colleague = stmarys.client(other_doctor)

    opened = colleague.get(url("record_correct", first["id"]))
    sent = colleague.post(url("record_correct", first["id"]), form(diagnosis="Other", correction_reason="Mine"))

    assert (opened.status_code, sent.status_code) == (403, 403)
    assert len(records_of(stmarys, patient["id"])) == 1


# --- who may open the doctor's pages ------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.HOSPITAL_ADMIN, Role.PATIENT])
def test_other_roles_get_403_on_every_doctor_page_and_change_nothing(stmarys, doctor, patient, role):
    first = record(stmarys, doctor, patient["id"])
    client = stmarys.client(stmarys.user(role))

    answers = [
        client.get(url("record_new", patient["id"])).status_code,
        client.post(url("record_new", patient["id"]), form(diagnosis="Asthma")).status_code,
        client.post(url("record_draft", patient["id"]), form(diagnosis="Asthma")).status_code,
        client.get(url("record_correct", first["id"])).status_code,
        client.post(url("record_correct", first["id"]), form(diagnosis="X", correction_reason="Y")).status_code,
        client.get(url("break_glass_open", patient["id"])).status_code,
        client.post(url("break_glass_open", patient["id"]), {"reason": "A real emergency now"}).status_code,
    ]

    assert answers == [403] * 7
    assert len(records_of(stmarys, patient["id"])) == 1
    with schema_context(stmarys.schema):
        assert not RecordDraft.objects.exists()
        assert not BreakGlassAccess.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(stmarys, patient):
    response = stmarys.client().get(url("record_new", patient["id"]))

    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_a_patient_of_another_branch_is_not_found(stmarys, riverside, patient):
    client = riverside.client(riverside.user(Role.DOCTOR))

    assert client.get(url("record_new", patient["id"])).status_code == 404
    assert client.get(url("break_glass_open", patient["id"])).status_code == 404


def test_an_unassigned_doctor_is_offered_break_glass_and_then_reaches_the_record_screen(stmarys, other_doctor):
    patient = register(stmarys)
    client = stmarys.client(other_doctor)
    break_glass_url = url("break_glass_open", patient["id"])

    refused = client.get(url("record_new", patient["id"]))
    warning = client.get(break_glass_url)
    too_short = client.post(break_glass_url, {"reason": "urgent"})
    opened = client.post(break_glass_url, {"reason": "Unconscious in the emergency room, no assigned doctor on site"})
    screen = client.get(url("record_new", patient["id"]))

    assert refused.status_code == 403
    assert "not assigned to this patient" in refused.content.decode()
    assert f'href="{break_glass_url}"' in refused.content.decode()
    assert warning.status_code == 200
    assert "recorded and reviewed by the hospital admin" in warning.content.decode()
    assert f"it lasts {stmarys.hospital.break_glass_hours} hours" in warning.content.decode()
    assert too_short.status_code == 422
    assert "at least 10 characters" in too_short.content.decode()
    assert opened.status_code == 302
    assert opened.url == url("record_new", patient["id"])
    assert screen.status_code == 200
    assert "break-glass access" in screen.content.decode()
    with schema_context(stmarys.schema):
        assert BreakGlassAccess.objects.filter(patient_id=patient["id"], doctor=other_doctor).count() == 1


def test_a_correction_keeps_its_own_draft_apart_from_a_new_record(stmarys, doctor, patient):
    first = record(stmarys, doctor, patient["id"], diagnosis="Asthma, mild")
    client = stmarys.client(doctor)

    client.post(
        url("record_draft", patient["id"]),
        {**form(diagnosis="Asthma, severe"), "lineage": first["lineage"], "correction_reason": "Half typed"},
    )
    correction = client.get(url("record_correct", first["id"])).content.decode()
    new_record = client.get(url("record_new", patient["id"])).content.decode()

    assert "Restored your unsaved draft" in correction
    assert "Asthma, severe</textarea>" in correction
    assert "Half typed</textarea>" in correction
    assert "Restored your unsaved draft" not in new_record
    assert "Asthma, severe" not in new_record


def test_the_draft_address_only_takes_posts(stmarys, doctor, patient):
    assert stmarys.client(doctor).get(url("record_draft", patient["id"])).status_code == 405
