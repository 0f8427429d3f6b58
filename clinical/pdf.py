"""A prescription as a PDF: WeasyPrint, from ``templates/pdf/prescription.html``.

Nothing is fetched while rendering: the page is written by us, but names, advice and medicines
come from people, and an address in them must never make the worker call out (the URL fetcher
allows only ``data:`` URLs, which reach nothing). Fonts come from the system (fontconfig): Noto covers Latin,
Devanagari and Arabic, DejaVu the rest. A render of the same prescription version gives the
same document: its dates are the record's, not the clock's.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from accounts.links import branch_address
from clinical.models import Prescription
from clinical.validation import age_display
from core.branch import branch_current, branch_zone
from tenants.models import LOGO_MAX_BYTES


def prescription_fetcher() -> Any:
    """WeasyPrint's fetcher allowed ``data:`` URLs only (the branch's logo, embedded by us): any
    other URL, whoever wrote it, is refused before anything is opened."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def logo_data_uri(branch: Any) -> str:
    """The branch's logo as a data: URL, or "" (no logo, or one that cannot be read)."""
    if not branch.logo:
        return ""
    kind = LOGO_TYPES.get(branch.logo.name.rsplit(".", 1)[-1].lower())
    try:
        with branch.logo.open("rb") as handle:
            data = handle.read(LOGO_MAX_BYTES + 1)
    except OSError:
        return ""
    if kind is None or len(data) > LOGO_MAX_BYTES:
        return ""
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def prescription_context(prescription: Prescription) -> dict[str, Any]:
    record = prescription.record
    patient = record.patient
    doctor = record.doctor
    zone = branch_zone()
    issued = record.visit_at.astimezone(zone)
    branch = branch_current()
    return {
        "branch": branch,
        "logo": logo_data_uri(branch),
        # Where a pharmacist checks a printed copy (the /verify/ page of the branch's host).
        "verify_address": f"{branch_address()}/verify/{prescription.verification_code}/",
        "prescription": prescription,
        "record": record,
        "patient": patient,
        "age": age_display(patient.date_of_birth, issued.date()) if patient.date_of_birth else "",
        "allergies": list(patient.allergies.all()),
        "doctor": doctor,
        # The doctor's profile lives in scheduling; clinical reads it through the relation only.
        "profile": getattr(doctor, "doctor_profile", None),
        "issued": issued,
        "lines": list(prescription.lines.all()),
    }


def prescription_pdf(prescription: Prescription) -> bytes:
    """The PDF of one prescription version, in the branch's first language."""
    from weasyprint import HTML  # heavy: loaded by the workers that render, not by every process

    branch = branch_current()
    with translation.override(branch.default_language):
        html = render_to_string("pdf/prescription.html", prescription_context(prescription))
    document = HTML(string=html, url_fetcher=prescription_fetcher(), base_url=None)
    return document.write_pdf(pdf_identifier=prescription.pk.hex.encode(), uncompressed_pdf=False)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
