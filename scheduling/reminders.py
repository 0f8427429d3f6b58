"""Appointment reminders: which are due (a scan of the database, not far-future ETAs), made once
per visit, offset and channel, and sent once, in the patient's language and the branch's time.

A branch sets its offsets (a day and two hours before, by default) and its quiet hours (21:00
to 08:00): a reminder that would fall in them goes out before they start. Patients choose
e-mail or a text message, or none. A message names the branch, the doctor and the time, and how
to cancel: never a diagnosis or a treatment.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation

from clinical.models import ContactChannel
from clinical.selectors import patient_language
from core.branch import branch_current, branch_zone
from core.db import current_schema
from core.sms import branch_sms_send
from scheduling.models import Appointment, ReminderSend
from workers.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

SEND_TASK = "scheduling.send_reminder"
# Reminders go out this long before quiet hours begin, when they would fall inside them.
BEFORE_QUIET = dt.timedelta(minutes=15)


def _in_quiet_hours(at: dt.time, start: dt.time, end: dt.time) -> bool:
    if start <= end:
        return start <= at < end
    return at >= start or at < end  # over midnight, the usual case


def reminder_time(*, visit_start: dt.datetime, offset: dt.timedelta, branch: Any) -> dt.datetime:
    """When the reminder ``offset`` before a visit goes out: then, or before the branch's quiet
    hours start if it would fall inside them."""
    zone = branch_zone()
    at = (visit_start - offset).astimezone(zone)
    start, end = branch.quiet_hours_start, branch.quiet_hours_end
    if not _in_quiet_hours(at.time(), start, end):
        return at.astimezone(dt.UTC)
    # The evening the quiet hours began: today if we are past their start, else the day before.
    evening = at.date() if at.time() >= start else at.date() - dt.timedelta(days=1)
    began = dt.datetime.combine(evening, start).replace(tzinfo=zone).astimezone(dt.UTC)
    return began - BEFORE_QUIET


def _channel_of(appointment: Appointment) -> str | None:
    patient = appointment.patient
    if patient.reminders_opt_out:
        return None
    if patient.contact_channel == ContactChannel.EMAIL and patient.email:
        return ContactChannel.EMAIL
    if patient.contact_channel == ContactChannel.SMS and patient.phone:
        return ContactChannel.SMS
    return None


def reminders_scan(*, now: dt.datetime | None = None) -> int:
    """Make the reminders that are due now in this branch and queue them; returns how many were
    made. Safe to run twice at once: a reminder exists once (unique constraint), and only the
    scan that made it queues it."""
    now = now or timezone.now()
    branch = branch_current()
    offsets = sorted({int(m) for m in branch.reminder_offsets_minutes if int(m) > 0}, reverse=True)
    if not offsets:
        return 0
    # Far enough ahead to catch a reminder pulled earlier by quiet hours.
    horizon = now + dt.timedelta(minutes=offsets[0]) + dt.timedelta(days=1)
    upcoming = list(
        Appointment.objects.select_related("patient").filter(
            status=Appointment.Status.BOOKED, start__gt=now, start__lte=horizon
        )
    )
    # What earlier scans made, in one query: every scan passes over the same visits again.
    existing = set(
        ReminderSend.objects.filter(appointment__in=upcoming).values_list("appointment_id", "offset_minutes", "channel")
    )
    made = 0
    for appointment in upcoming:
        channel = _channel_of(appointment)
        if channel is None:
            continue
        due_now = []
        for minutes in offsets:
            due = reminder_time(visit_start=appointment.start, offset=dt.timedelta(minutes=minutes), branch=branch)
            # Not yet due; or due before the visit was even booked (a visit booked an hour ahead
            # gets no day-before reminder).
            if due <= now and due >= appointment.booked_at:
                due_now.append((minutes, due))
        if due_now:
            # Only the latest of those due: after a pause (the workers down for a day) a patient
            # gets one reminder, not the day-before and the two-hours one at once.
            minutes, due = min(due_now)
            if (appointment.pk, minutes, channel) not in existing:
                made += _make(appointment, minutes, channel, due)
    return made


def _make(appointment: Appointment, minutes: int, channel: str, due: dt.datetime) -> int:
    try:
        with transaction.atomic():
            send = ReminderSend.objects.create(
                appointment=appointment,
                offset_minutes=minutes,
                channel=channel,
                for_start=appointment.start,
                due_at=due,
            )
            outbox_enqueue(SEND_TASK, reminder_id=send.pk)
    except IntegrityError:  # made already, by an earlier scan or one running beside this one
        return 0
    return 1


def reminder_send(reminder_id: int) -> str:
    """Send one reminder, once: its row is locked while it is sent, and a sent or skipped one is
    left alone. Returns its status. A failure is kept on the row and raised (the task retries)."""
    try:
        with transaction.atomic():
            send = (
                ReminderSend.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("appointment__patient", "appointment__doctor")
                .filter(pk=reminder_id, status=ReminderSend.Status.PENDING)
                .first()
            )
            if send is None:  # sent, skipped, or being sent by another worker right now
                return "not pending"
            appointment = send.appointment
            if appointment.status != Appointment.Status.BOOKED or appointment.start != send.for_start:
                send.status = ReminderSend.Status.SKIPPED
                send.last_error = "the visit was cancelled or moved"
                send.save(update_fields=["status", "last_error"])
                return send.status
            _deliver(send)
            send.status = ReminderSend.Status.SENT
            send.sent_at = timezone.now()
            send.attempts += 1
            send.last_error = ""
            send.save(update_fields=["status", "sent_at", "attempts", "last_error"])
    except Exception as exc:
        ReminderSend.objects.filter(pk=reminder_id, status=ReminderSend.Status.PENDING).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        raise
    logger.info("reminder %s of appointment %s sent by %s", send.pk, appointment.pk, send.channel)
    return send.status


def _context(appointment: Appointment) -> dict[str, Any]:
    return {
        "branch": branch_current(),
        "patient": appointment.patient,
        "doctor": appointment.doctor.full_name or appointment.doctor.username,
        "start": appointment.start.astimezone(branch_zone()),
        "room": getattr(getattr(appointment.doctor, "doctor_profile", None), "room", ""),
    }


def _deliver(send: ReminderSend) -> None:
    appointment_message(send.appointment, channel=send.channel, kind="reminder")


def appointment_message(appointment: Appointment, *, channel: str, kind: str) -> None:
    """Send the patient the ``kind`` of message ("reminder", "confirmation") about a visit, by
    ``channel``, in their language and the branch's time: templates ``email/<kind>*`` and
    ``sms/<kind>.txt``."""
    patient = appointment.patient
    with translation.override(patient_language(patient)), timezone.override(branch_zone()):
        context = _context(appointment)
        if channel == ContactChannel.EMAIL:
            subject = render_to_string(f"email/{kind}_subject.txt", context).strip()
            text = render_to_string(f"email/{kind}.txt", context)
            html = render_to_string(f"email/{kind}.html", context)
            mail = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [patient.email])
            mail.attach_alternative(html, "text/html")
            mail.attach("appointment.ics", appointment_ics(appointment), "text/calendar")
            mail.send()
        else:
            body = render_to_string(f"sms/{kind}.txt", context).strip()
            branch_sms_send(to=patient.phone, body=body, kind=kind)


CONFIRM_TASK = "scheduling.send_confirmation"


def patient_reachable(appointment: Appointment) -> bool:
    """Whether the visit's patient has a way to hear from the branch (and has not said no)."""
    return _channel_of(appointment) is not None


def confirmation_send(appointment_id: str) -> bool:
    """Tell the patient their visit is booked, once: the visit's row is locked and stamped."""
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient", "doctor")
            .filter(pk=appointment_id)
            .first()
        )
        if appointment is None or appointment.confirmation_sent_at is not None:
            return False
        channel = _channel_of(appointment)
        if appointment.status != Appointment.Status.BOOKED or channel is None:
            return False
        appointment_message(appointment, channel=channel, kind="confirmation")
        appointment.confirmation_sent_at = timezone.now()
        appointment.save(update_fields=["confirmation_sent_at"])
    logger.info("confirmation of appointment %s sent by %s", appointment.pk, channel)
    return True


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def appointment_ics(appointment: Appointment) -> str:
    """The visit as an iCalendar event: the branch, the doctor and the time, nothing clinical."""
    branch = branch_current()
    stamp = "%Y%m%dT%H%M%SZ"
    doctor = appointment.doctor.full_name or appointment.doctor.username
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Hospital platform//Appointments//EN",
        "BEGIN:VEVENT",
        f"UID:{appointment.pk}@{current_schema()}",
        f"DTSTAMP:{timezone.now().astimezone(dt.UTC):{stamp}}",
        f"DTSTART:{appointment.start.astimezone(dt.UTC):{stamp}}",
        f"DTEND:{appointment.end.astimezone(dt.UTC):{stamp}}",
        f"SUMMARY:{_ics_text(f'{branch.name}: {doctor}')}",
        f"LOCATION:{_ics_text(branch.address or branch.name)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"
