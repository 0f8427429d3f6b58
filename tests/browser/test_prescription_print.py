"""The prescription's PDF on the doctor's screen in Chromium: "Preparing the PDF…" while the
worker renders it, then a Print button, without reloading the page; the button gives the PDF."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Prescription
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.browser.test_doctor_screen import _patient_with_a_prescription
from tests.conftest import email_of
from workers import outbox

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_the_print_button_appears_when_the_worker_has_made_the_pdf(page, url, committed, celery_worker, monkeypatch):
    # given a prescription saved while nothing hands its render to the worker yet
    monkeypatch.setattr(outbox, "_relay_quietly", lambda pk: None)
    patient = _patient_with_a_prescription(committed, "Printa Waits")
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        prescription = Prescription.objects.get(record__patient=patient)
    assert prescription.pdf_status == "pending"
    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    page.goto(url("stmarys", f"/patients/{patient.pk}/record/"))
    status = page.locator(f"#pdf-{prescription.pk}")
    assert "Preparing the PDF" in status.inner_text()
    page.evaluate("window.notReloaded = true")
    screenshot(page, "prescription-pdf-pending")

    # when the relay hands it over and the worker renders it
    with schema_context("public"):
        connection.set_schema_to_public()
        assert outbox.outbox_relay() >= 1

    # then the Print button replaces the note, on the same page
    print_button = page.get_by_role("link", name="Print prescription")
    print_button.wait_for(timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "prescription-pdf-ready")
    # the browser's own fetch: its session, and *.localhost resolved as it resolves it
    status_code, content_type, start = page.evaluate(
        """async (href) => {
            const answer = await fetch(href);
            const body = new Uint8Array(await answer.arrayBuffer());
            return [answer.status, answer.headers.get("content-type"), String.fromCharCode(...body.slice(0, 5))];
        }""",
        print_button.get_attribute("href"),
    )
    assert (status_code, content_type, start) == (200, "application/pdf", "%PDF-")
