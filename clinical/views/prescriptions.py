"""Printing a prescription from the dashboard: its PDF's state, live, and the file. If the
workers cannot make it (the broker is down, a render failed), opening it makes it here and
now: staff can always print."""

from __future__ import annotations

import logging
import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_http_methods

from accounts.permissions import staff_required
from clinical import selectors
from clinical.api import prescription_file_answer
from clinical.models import AuditEvent, Prescription
from clinical.permissions import prescription_print_roles
from clinical.tasks import prescription_render
from clinical.views.common import page_access

logger = logging.getLogger(__name__)


def _prescription_or_404(request: HttpRequest, prescription_id: uuid.UUID, *, audit_read: bool) -> Prescription:
    prescription = selectors.prescription_get(prescription_id)
    if prescription is None:
        raise Http404
    page_access(
        request,
        prescription.record.patient_id,
        AuditEvent.Action.VIEW_PRESCRIPTION,
        roles=prescription_print_roles(),
        audit_read=audit_read,
    )
    return prescription


@staff_required
@require_http_methods(["GET"])
def prescription_pdf(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    prescription = _prescription_or_404(request, prescription_id, audit_read=True)
    if prescription.pdf_status != Prescription.PdfStatus.READY:
        try:  # on demand: the same render the workers do, once per version all the same
            prescription_render(str(prescription.pk))
        except Exception:
            logger.exception("prescription %s could not be made on demand", prescription.pk)
        prescription = selectors.prescription_get(prescription_id) or prescription
    if prescription.pdf_status != Prescription.PdfStatus.READY:
        return render(request, "clinical/_pdf_status.html", {"prescription": prescription, "page": True}, status=503)
    return prescription_file_answer(prescription, inline=True)  # opens in the browser, to print


@staff_required
@require_http_methods(["GET"])
def prescription_pdf_status(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    prescription = _prescription_or_404(request, prescription_id, audit_read=False)
    return render(request, "clinical/_pdf_status.html", {"prescription": prescription})


urlpatterns = [
    path("prescriptions/<uuid:prescription_id>/pdf/", prescription_pdf, name="prescription_pdf"),
    path("prescriptions/<uuid:prescription_id>/pdf/status/", prescription_pdf_status, name="prescription_pdf_status"),
]
