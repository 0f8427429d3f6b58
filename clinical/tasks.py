"""Clinical tasks: rendering a prescription's PDF.

Safe to run twice (a re-delivered or retried message): the prescription's row is locked while
it renders, and a version that is ready is never rendered again, so a version has one file.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from clinical.models import Prescription
from clinical.pdf import prescription_pdf, sha256_of
from clinical.services import PRESCRIPTION_RENDER_TASK
from workers.base import BranchTask
from workers.celery import app

logger = logging.getLogger(__name__)


@signals.worker_init.connect
def _warm_pdf_worker(sender: Any = None, **kwargs: Any) -> None:
    """A worker that takes the pdf queue loads WeasyPrint before it forks its pool processes:
    each of them would otherwise spend a second and a half on its first PDF."""
    try:
        queues = set(sender.app.amqp.queues.consume_from)
    except AttributeError:
        queues = {"pdf"}
    if "pdf" in queues:
        import weasyprint  # noqa: F401

        logger.info("WeasyPrint loaded before the pool processes fork")


def prescription_render(prescription_id: str) -> Prescription | None:
    """Render and store the PDF of a prescription version, once. A failure is kept on the row
    for staff and raised again, so the task is retried."""
    try:
        with transaction.atomic():
            prescription = (
                Prescription.objects.select_for_update(of=("self",))
                .select_related("record__patient", "record__doctor")
                .filter(pk=prescription_id)
                .first()
            )
            if prescription is None:
                logger.warning("no prescription %s to render", prescription_id)
                return None
            if prescription.pdf_status == Prescription.PdfStatus.READY and prescription.pdf_file:
                return prescription
            data = prescription_pdf(prescription)
            _store(prescription, data)
    except Exception as exc:
        logger.exception("prescription %s did not render", prescription_id)
        Prescription.objects.filter(pk=prescription_id).exclude(pdf_status=Prescription.PdfStatus.READY).update(
            pdf_status=Prescription.PdfStatus.FAILED, pdf_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    logger.info("prescription %s rendered (%d bytes)", prescription_id, len(data))
    return prescription


def _store(prescription: Prescription, data: bytes) -> None:
    """The file under a name of the version's own (a render that crashed before it was recorded
    left the same name behind: it is replaced), then the row."""
    name = f"{prescription.pk}.pdf"
    storage = prescription.pdf_file.storage
    path = prescription.pdf_file.field.generate_filename(prescription, name)
    if storage.exists(path):
        storage.delete(path)
    prescription.pdf_file.save(name, ContentFile(data), save=False)
    prescription.pdf_sha256 = sha256_of(data)
    prescription.pdf_status = Prescription.PdfStatus.READY
    prescription.pdf_error = ""
    prescription.rendered_at = timezone.now()
    prescription.save(update_fields=["pdf_file", "pdf_sha256", "pdf_status", "pdf_error", "rendered_at"])


@app.task(
    base=BranchTask,
    name=PRESCRIPTION_RENDER_TASK,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def render_prescription(prescription_id: str) -> None:
    prescription_render(prescription_id)
