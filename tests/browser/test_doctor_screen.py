"""The doctor's record screen in Chromium: repeating a prescription, adding a line by keyboard,
saving, and a draft that survives a reload."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical import services
from clinical.models import BreakGlassAccess, Patient, Prescription, PrescriptionLine, RecordDraft, TreatmentRecord
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.conftest import email_of

pytestmark = pytest.mark.browser

LINE = {
    "medicine": "Salbutamol",
    "strength": "100 mcg",
    "dose": "2 puffs",
    "frequency": "when needed",
    "duration": "30 days",
    "instructions": "Shake well",
}


def _patient_with_a_prescription(committed, full_name: str) -> Patient:
    """A patient of St Mary's doctor, with one earlier visit and its prescription; committed,
    and removed afterwards (the audit trail keeps its rows: it is append-only)."""
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = User.objects.get(email=email_of(Role.DOCTOR, "stmarys"))
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        patient = services.patient_register(
            actor=desk,
            data={"full_name": full_name, "gender": "female", "date_of_birth": "1984-06-30"},
            confirm_new=True,
        ).patient
        services.patient_assign_doctor(patient=patient, doctor=doctor, actor=desk)
        services.treatment_record_create(
            doctor=doctor, patient=patient, data={"diagnosis": "Asthma, mild", "prescriptions": [LINE]}
        )
    committed.cleanup(lambda: _remove(stmarys, patient.pk))
    return patient


def _remove(branch, patient_id) -> None:
    with schema_context(branch.schema):
        RecordDraft.objects.filter(patient_id=patient_id).delete()
        PrescriptionLine.objects.filter(prescription__record__patient_id=patient_id).delete()
        Prescription.objects.filter(record__patient_id=patient_id).delete()
        TreatmentRecord.objects.filter(patient_id=patient_id).delete()
        Patient.objects.filter(pk=patient_id).delete()


def test_a_doctor_repeats_the_last_prescription_adds_a_line_and_saves(page, url, committed):
    patient = _patient_with_a_prescription(committed, "Rosa Lindqvist")
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    page.goto(url("stmarys", f"/patients/{patient.pk}/record/"))
    screenshot(page, "doctor-record-screen")

    # the diagnosis has the keyboard at once
    page.keyboard.type("Chest infection")
    # "Repeat" copies the last prescription into the form
    page.get_by_role("button", name="Repeat").focus()
    page.keyboard.press("Enter")
    lines = page.locator("#prescription-lines .prescription-line")
    assert lines.count() == 1
    assert lines.nth(0).locator('[name="line-medicine"]').input_value() == "Salbutamol"
    # "Add line" puts the keyboard in the new line's first cell; Tab walks along it
    page.get_by_role("button", name="Add line").focus()
    page.keyboard.press("Enter")
    assert lines.count() == 2
    for value in ["Amoxicillin", "500 mg", "1 capsule", "three times a day", "5 days", "after food"]:
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    screenshot(page, "doctor-record-screen-filled")
    with page.expect_navigation():
        page.get_by_role("button", name="Save record").click()

    assert "The record is saved." in page.locator("main").inner_text()
    newest = page.locator(".record-card").first
    newest.locator("summary.card-header").click()
    assert "Chest infection" in newest.inner_text()
    medicines = newest.locator(".prescription-lines tbody tr td:first-child").all_inner_texts()
    assert medicines == ["SALBUTAMOL", "AMOXICILLIN"]
    screenshot(page, "doctor-record-saved")


def test_a_draft_survives_a_reload(page, url, committed):
    patient = _patient_with_a_prescription(committed, "Ines Okafor")
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    record_url = url("stmarys", f"/patients/{patient.pk}/record/")
    page.goto(record_url)

    with page.expect_response(lambda r: r.url.endswith("/record/draft/") and r.request.method == "POST") as saved:
        page.get_by_label("Diagnosis").type("Wheeze, query asthma")
    assert saved.value.status == 200
    # the draft save is the user's typing: it must not be marked as the page's own polling
    assert "x-background" not in saved.value.request.headers
    page.locator("#draft-status").get_by_text("Draft saved").wait_for()
    page.reload()

    assert page.get_by_label("Diagnosis").input_value() == "Wheeze, query asthma"
    assert "Restored your unsaved draft from" in page.locator("#draft-restored").inner_text()
    screenshot(page, "doctor-draft-restored")


def test_a_correction_keeps_the_first_version_in_view(page, url, committed):
    patient = _patient_with_a_prescription(committed, "Aiko Brandt")
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    page.goto(url("stmarys", f"/patients/{patient.pk}/record/"))

    with page.expect_navigation():
        page.get_by_role("link", name="Correct this record").click()
    assert page.get_by_label("Diagnosis").input_value() == "Asthma, mild"
    page.keyboard.type("Severity was misjudged")  # the reason has the keyboard
    page.get_by_label("Diagnosis").fill("Asthma, moderate")
    screenshot(page, "doctor-correction")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")

    card = page.locator(".record-card").first
    card.locator("summary.card-header").click()
    assert "Corrected (version 2)" in card.inner_text()
    assert "Asthma, moderate" in card.inner_text()
    card.locator(".earlier-version summary").click()
    assert "Asthma, mild" in card.locator(".earlier-version").inner_text()
    screenshot(page, "doctor-correction-saved")


def test_a_line_without_its_dose_is_marked_on_that_line(page, url, committed):
    patient = _patient_with_a_prescription(committed, "Mei Tanaka")
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    page.goto(url("stmarys", f"/patients/{patient.pk}/record/"))

    page.get_by_label("Diagnosis").fill("Otitis media")
    page.get_by_role("button", name="Add line").click()
    line = page.locator("#prescription-lines .prescription-line").nth(0)
    line.get_by_label("Medicine (generic name)").fill("Amoxicillin")
    line.get_by_label("Frequency").fill("three times a day")
    line.get_by_label("Duration").fill("5 days")
    with page.expect_navigation():
        page.get_by_role("button", name="Save record").click()

    line = page.locator("#prescription-lines .prescription-line").nth(0)
    assert "This field is required." in line.locator(".line-dose").inner_text()
    assert line.get_by_label("Medicine (generic name)").input_value() == "Amoxicillin"
    assert page.get_by_label("Diagnosis").input_value() == "Otitis media"
    screenshot(page, "doctor-record-line-error")


def test_an_unassigned_doctor_opens_break_glass_to_reach_the_record_screen(page, url, committed):
    stmarys = committed.branch("stmarys")
    patient = _patient_with_a_prescription(committed, "Tomas Novak")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = User.objects.get(email=email_of(Role.DOCTOR, "stmarys"))
        services.patient_unassign_doctor(patient=patient, doctor=doctor, actor=doctor)
    committed.cleanup(lambda: _remove_break_glass(stmarys, patient.pk))
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))

    page.goto(url("stmarys", f"/patients/{patient.pk}/record/"))
    assert "not assigned to this patient" in page.locator("#not-assigned").inner_text()
    screenshot(page, "doctor-not-assigned")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the break-glass link has the keyboard
    assert "recorded and reviewed by the hospital admin" in page.locator("#break-glass-warning").inner_text()
    page.keyboard.type("Collapsed in the waiting room; her doctor is away")
    screenshot(page, "doctor-break-glass")
    with page.expect_navigation():
        page.get_by_role("button", name="Open the record").click()

    assert page.url == url("stmarys", f"/patients/{patient.pk}/record/")
    assert "Break-glass access is open until" in page.locator("main").inner_text()
    assert page.get_by_label("Diagnosis").is_visible()


def _remove_break_glass(branch, patient_id) -> None:
    with schema_context(branch.schema):
        BreakGlassAccess.objects.filter(patient_id=patient_id).delete()
