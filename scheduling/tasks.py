"""Scheduling's tasks: telling a patient their visit was moved or cancelled, and forgetting old
idempotency keys."""

from __future__ import annotations

import logging

from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.tasks import MAIL_RETRY, mail_send
from clinical.selectors import patient_language
from core.branch import branch_zone
from scheduling import reminders
from scheduling.idempotency import idempotency_purge
from scheduling.models import Appointment
from workers.base import BranchTask
from workers.celery import app

logger = logging.getLogger(__name__)


@app.task(base=BranchTask, name="scheduling.send_appointment_notice", **MAIL_RETRY)
def send_appointment_notice(appointment_id: str, change: str) -> None:
    """E-mail the patient that their visit was moved or cancelled. It names the branch, the
    doctor and the time, never the treatment: a message can be read by others."""
    appointment = Appointment.objects.select_related("patient", "doctor").filter(pk=appointment_id).first()
    if appointment is None or not appointment.patient.email:
        logger.info("no e-mail address for the visit's patient; nothing sent")
        return
    branch = connection.tenant
    with translation.override(patient_language(appointment.patient)), timezone.override(branch_zone()):
        context = {
            "patient": appointment.patient,
            "doctor": appointment.doctor.full_name or appointment.doctor.username,
            "start": appointment.start.astimezone(branch_zone()),
            "branch": branch,
            "change": change,
        }
        subject = render_to_string("email/appointment_notice_subject.txt", context).strip()
        body = render_to_string("email/appointment_notice.txt", context)
    mail_send(subject, body, appointment.patient.email)


@app.task(base=BranchTask, name="scheduling.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return idempotency_purge()


@app.task(base=BranchTask, name="scheduling.reminders_scan")
def reminders_scan() -> int:
    return reminders.reminders_scan()


@app.task(base=BranchTask, name="scheduling.send_reminder", **MAIL_RETRY)
def send_reminder(reminder_id: int) -> str:
    return reminders.reminder_send(reminder_id)


@app.task(base=BranchTask, name="scheduling.send_confirmation", **MAIL_RETRY)
def send_confirmation(appointment_id: str) -> bool:
    return reminders.confirmation_send(appointment_id)
