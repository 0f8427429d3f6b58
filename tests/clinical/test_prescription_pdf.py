"""Prescription PDFs made by a real worker from the outbox: the text a pharmacist reads, in
Latin, Devanagari and Arabic script, stored under the branch, given only to those who may print."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import ApiToken, Role
from clinical.models import Patient, PatientUserObjectPermission, Prescription, TreatmentRecord
from tenants.models import Hospital
from tests.clinical.conftest import assign, post, prescribe, register

pytestmark = pytest.mark.worker

NAMES = ["José Álvarez-Núñez", "राहुल गुप्ता", "فاطمة السيد"]
# Directional marks pdftotext puts around right-to-left runs.
BIDI_MARKS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u200e\u200f"))


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "prescription.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _wait_for_pdf(client, prescription_id: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/prescriptions/{prescription_id}/pdf/")
        if response.status_code != 202:
            return response
        assert response["Retry-After"] == "2"
        time.sleep(0.3)
    raise AssertionError(f"the PDF of {prescription_id} was not ready within {timeout}s")


def _remove(branch, patient_ids: list[str]) -> None:
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        prescriptions = Prescription.objects.filter(record__patient_id__in=patient_ids)
        for prescription in prescriptions:
            if prescription.pdf_file:
                prescription.pdf_file.delete(save=False)
        prescriptions.delete()
        TreatmentRecord.objects.filter(patient_id__in=patient_ids).delete()
        PatientUserObjectPermission.objects.filter(content_object_id__in=patient_ids).delete()
        Patient.objects.filter(pk__in=patient_ids).delete()
        ApiToken.objects.all().delete()
    with schema_context("public"):
        Hospital.objects.filter(pk=branch.hospital.pk).update(desk_prints_prescriptions=False)


def test_a_saved_prescription_becomes_a_pdf_in_every_script_only_for_those_who_may_print(
    committed, celery_worker, tmp_path
):
    stmarys, riverside = committed.branch("stmarys"), committed.branch("riverside")
    doctor = stmarys.user(Role.DOCTOR)
    patients = [register(stmarys, full_name=name, date_of_birth="1980-02-03") for name in NAMES]
    committed.cleanup(lambda: _remove(stmarys, [p["id"] for p in patients]))
    made = []
    for patient in patients:
        assign(stmarys, patient["id"], doctor)
        saved = post(
            stmarys.api(doctor),
            "/api/treatments/record/",
            {
                "patient_id": patient["id"],
                "diagnosis": "Community-acquired pneumonia",
                "patient_advice": "Drink plenty of fluids.",
                "prescriptions": [
                    {
                        "medicine": "Amoxicillin",
                        "strength": "500 mg",
                        "dose": "1 capsule",
                        "frequency": "three times a day",
                        "duration": "7 days",
                        "instructions": "after food",
                    },
                ],
            },
        )
        assert saved.status_code == 201, saved.content
        made.append((patient, saved.json()["prescription"]["id"]))
    doctor_api = stmarys.api(doctor)

    for patient, prescription_id in made:
        pdf = _wait_for_pdf(doctor_api, prescription_id)
        assert pdf.status_code == 200, pdf.content[:300]
        assert pdf["Content-Type"] == "application/pdf"
        text = _pdf_text(b"".join(pdf.streaming_content), tmp_path).translate(BIDI_MARKS)
        assert patient["full_name"] in text
        assert patient["mrn"] in text
        assert "AMOXICILLIN" in text
        assert "three times a day" in text
        assert "Drink plenty of fluids." in text
        # where a pharmacist checks it, as typed from paper
        assert f"{stmarys.host}:{settings.SITE_PORT}/verify/" in text

    with schema_context(stmarys.schema):
        stored = Prescription.objects.get(pk=made[0][1])
        assert stored.pdf_status == "ready"
        assert f"/{stmarys.schema}/prescriptions/" in stored.pdf_file.path  # under the branch's own folder
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    refused_desk = desk.get(f"/api/prescriptions/{made[0][1]}/pdf/")
    at_riverside = riverside.api(riverside.user(Role.HOSPITAL_ADMIN)).get(f"/api/prescriptions/{made[0][1]}/pdf/")
    with schema_context("public"):
        Hospital.objects.filter(pk=stmarys.hospital.pk).update(desk_prints_prescriptions=True)
    allowed_desk = desk.get(f"/api/prescriptions/{made[0][1]}/pdf/")

    assert refused_desk.status_code == 403
    assert at_riverside.status_code == 404
    assert allowed_desk.status_code == 200


@pytest.mark.django_db
def test_without_the_workers_the_dashboard_makes_the_pdf_on_demand(stmarys, tmp_path):
    """The broker is down or the workers are behind: the doctor's Print still gives the paper."""
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Ondemand Printer")
    assign(stmarys, patient["id"], doctor)
    prescription_id = prescribe(stmarys, doctor, patient["id"], diagnosis="Otitis media", medicine="Amoxicillin")
    client = stmarys.client(doctor)

    profile = client.get(f"/patients/{patient['id']}/?tab=treatments").content.decode()
    status = client.get(f"/prescriptions/{prescription_id}/pdf/status/").content.decode()
    printed = client.get(f"/prescriptions/{prescription_id}/pdf/")
    after = client.get(f"/prescriptions/{prescription_id}/pdf/status/").content.decode()

    assert 'data-status="pending"' in profile
    assert 'hx-trigger="every 2s"' in status
    assert printed.status_code == 200
    assert printed["Content-Disposition"].startswith("inline")
    assert "AMOXICILLIN" in _pdf_text(b"".join(printed.streaming_content), tmp_path)
    assert 'data-status="ready"' in after
    assert "Print prescription" in after
    with schema_context(stmarys.schema):
        stored = Prescription.objects.get(pk=prescription_id)
        stored.pdf_file.delete(save=False)


@pytest.mark.django_db
def test_the_branch_logo_is_printed_and_nothing_else_is_fetched(stmarys, tmp_path):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    from clinical.pdf import prescription_fetcher, prescription_pdf

    picture = io.BytesIO()
    Image.new("RGB", (120, 40), (13, 110, 253)).save(picture, format="PNG")
    with schema_context("public"):
        hospital = Hospital.objects.get(pk=stmarys.hospital.pk)
        hospital.logo.save("stmarys.png", ContentFile(picture.getvalue()))
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Logo Looker")
    assign(stmarys, patient["id"], doctor)
    saved = post(
        stmarys.api(doctor),
        "/api/treatments/record/",
        {
            "patient_id": patient["id"],
            "diagnosis": "Cough",
            "patient_advice": '<img src="http://example.org/track.png"> see url(http://example.org/x)',
            "prescriptions": [{"medicine": "Honey", "dose": "1 spoon", "frequency": "at night", "duration": "5 days"}],
        },
    )
    try:
        with schema_context(stmarys.schema):
            connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
            pdf = prescription_pdf(Prescription.objects.get(pk=saved.json()["prescription"]["id"]))
        path = tmp_path / "logo.pdf"
        path.write_bytes(pdf)
        images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    finally:
        with schema_context("public"):
            Hospital.objects.get(pk=stmarys.hospital.pk).logo.delete()

    assert len(images.strip().splitlines()) == 3  # the header lines and one image: the logo
    assert "120    40" in images
    assert '<img src="http://example.org/track.png">' in text  # the patient's text, printed as text
    for refused in ("http://example.org/track.png", "file:///etc/passwd", "https://example.org/a.css"):
        with pytest.raises(ValueError, match="disallowed protocol"):
            prescription_fetcher().fetch(refused)


@pytest.mark.django_db
def test_the_desk_prints_from_the_profile_only_where_the_branch_allows_it(stmarys):
    doctor, desk_user = stmarys.user(Role.DOCTOR), stmarys.user(Role.RECEPTIONIST)
    patient = register(stmarys, full_name="Desk Printer")
    assign(stmarys, patient["id"], doctor)
    post(
        stmarys.api(doctor),
        "/api/treatments/record/",
        {
            "patient_id": patient["id"],
            "diagnosis": "Sprain",
            "prescriptions": [
                {"medicine": "Ibuprofen", "dose": "400 mg", "frequency": "three times a day", "duration": "5 days"}
            ],
        },
    )
    profile = f"/patients/{patient['id']}/?tab=treatments"

    not_allowed = stmarys.client(desk_user).get(profile).content.decode()
    with schema_context("public"):
        Hospital.objects.filter(pk=stmarys.hospital.pk).update(desk_prints_prescriptions=True)
    allowed = stmarys.client(desk_user).get(profile).content.decode()

    assert "pdf-status" not in not_allowed
    assert 'class="d-flex flex-wrap align-items-center gap-2 pdf-status"' in allowed
    assert "Sprain" not in allowed  # the diagnosis stays out of the desk's view


@pytest.mark.django_db
def test_a_render_delivered_again_leaves_the_one_file_as_it_was(stmarys):
    from clinical.pdf import prescription_pdf
    from clinical.tasks import prescription_render

    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Twice Delivered")
    assign(stmarys, patient["id"], doctor)
    prescription_id = prescribe(stmarys, doctor, patient["id"], diagnosis="Cough", medicine="Dextromethorphan")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        first = prescription_render(prescription_id)
        stored = Path(first.pdf_file.path)
        first_bytes, first_stamp = stored.read_bytes(), stored.stat().st_mtime_ns

        again = prescription_render(prescription_id)  # the message came back: re-delivered
        # and a render of the same version from scratch gives the same document
        fresh = prescription_pdf(Prescription.objects.get(pk=prescription_id))

        assert again.pdf_file.name == first.pdf_file.name
        assert again.pdf_sha256 == first.pdf_sha256
        assert stored.read_bytes() == first_bytes
        assert stored.stat().st_mtime_ns == first_stamp
        assert sorted(p.name for p in stored.parent.glob(f"{prescription_id}*")) == [f"{prescription_id}.pdf"]
        assert fresh == first_bytes
        stored.unlink()


@pytest.mark.django_db
def test_a_render_that_fails_keeps_the_reason_for_staff_and_the_retry_makes_it(stmarys):
    from clinical.tasks import prescription_render

    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Failing Render")
    assign(stmarys, patient["id"], doctor)
    prescription_id = prescribe(stmarys, doctor, patient["id"])
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        prescription = Prescription.objects.get(pk=prescription_id)
        # something in the way on the disk where its file goes: the render cannot store it
        obstacle = Path(prescription.pdf_file.storage.path(f"prescriptions/{prescription_id}.pdf"))
        obstacle.mkdir(parents=True)
        (obstacle / "in-the-way").write_text("")
        with pytest.raises(OSError, match="not empty"):
            prescription_render(prescription_id)
        failed = Prescription.objects.get(pk=prescription_id)
    api_answer = stmarys.api(doctor).get(f"/api/prescriptions/{prescription_id}/pdf/")
    status = stmarys.client(doctor).get(f"/prescriptions/{prescription_id}/pdf/status/").content.decode()

    assert failed.pdf_status == "failed"
    assert "OSError" in failed.pdf_error
    assert api_answer.status_code == 503
    assert api_answer.json()["code"] == "render_failed"
    assert "The PDF could not be made." in status
    assert "OSError" in status  # the reason, for staff to pass on
    assert "Try again now" in status

    # the obstacle is cleared; the task's retry renders it
    (obstacle / "in-the-way").unlink()
    obstacle.rmdir()
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        made = prescription_render(prescription_id)
        assert made.pdf_status == "ready"
        assert made.pdf_error == ""
    assert stmarys.api(doctor).get(f"/api/prescriptions/{prescription_id}/pdf/").status_code == 200


@pytest.mark.django_db
def test_a_branch_without_a_primary_domain_still_prints_its_verify_address(stmarys):
    from clinical.pdf import prescription_context
    from tenants.models import Domain

    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Domainless Print")
    assign(stmarys, patient["id"], doctor)
    prescription_id = prescribe(stmarys, doctor, patient["id"])
    with schema_context("public"):
        Domain.objects.filter(tenant=stmarys.hospital).update(is_primary=False)  # an operator's edit
    with schema_context(stmarys.schema):
        connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
        context = prescription_context(Prescription.objects.get(pk=prescription_id))

    assert context["verify_address"].startswith(f"{stmarys.host}:{settings.SITE_PORT}/verify/")
