"""Booking and the rules of a doctor's day: free slots, the strict rules for patients, staff
overrides with a reason, and the database as the last word on clashes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from clinical.audit import audit_record
from clinical.models import AuditEvent, Patient, Treatment
from clinical.services import patient_assign_doctor
from core.branch import branch_zone
from core.errors import DomainError
from scheduling.models import Appointment, Leave, WorkingHours

DOCTOR_CLASH = "scheduling_appt_doctor_no_overlap"
PATIENT_CLASH = "scheduling_appt_patient_no_overlap"


def _local(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """A wall-clock time of the branch as an instant. A time the clocks skip (spring forward)
    is read with the offset before the change, which lands just past the gap, as a wall clock
    would; a time that happens twice (autumn) is its first occurrence."""
    return dt.datetime.combine(day, at).replace(tzinfo=zone)


def _intervals(doctor: User, day: dt.date, zone: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    return [
        (_local(day, hours.starts, zone), _local(day, hours.ends, zone))
        for hours in WorkingHours.objects.filter(doctor=doctor, weekday=day.weekday())
    ]


def doctor_slots(
    *, doctor: User, day: dt.date, treatment: Treatment, now: dt.datetime | None = None
) -> list[dt.datetime]:
    """The free start times of ``day`` (branch time zone), in steps of the treatment's duration
    from the start of each working interval, minus leave and active bookings and the past."""
    now = now or timezone.now()
    zone = branch_zone()
    length = dt.timedelta(minutes=treatment.duration_minutes)
    intervals = _intervals(doctor, day, zone)
    if not intervals:
        return []
    day_start, day_end = min(i[0] for i in intervals), max(i[1] for i in intervals)
    busy = [
        (a.start, a.end)
        for a in Appointment.objects.filter(
            doctor=doctor, status__in=Appointment.ACTIVE, overbooked=False, start__lt=day_end, end__gt=day_start
        )
    ] + [
        (leave.starts_at, leave.ends_at)
        for leave in Leave.objects.filter(doctor=doctor, starts_at__lt=day_end, ends_at__gt=day_start)
    ]
    slots = []
    for begins, ends in intervals:
        # Steps in real time: across a clock change the wall-clock labels shift, the durations do not.
        start = begins
        while start + length <= ends:
            end = start + length
            if start > now and not any(b < end and start < e for b, e in busy):
                slots.append(start)
            start = end
    return sorted(slots)


@dataclass(frozen=True)
class Override:
    """Staff breaking a rule on purpose, with the reason that goes into the audit trail."""

    reason: str
    overbook: bool = False


def _rules_broken(*, doctor: User, treatment: Treatment, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str]]:
    """The strict rules a booking breaks, as (code, message)."""
    broken = []
    if start <= timezone.now():
        broken.append(("in_the_past", _("The start is in the past.")))
    zone = branch_zone()
    local_day = start.astimezone(zone).date()
    intervals = _intervals(doctor, local_day, zone)
    inside = [(b, e) for b, e in intervals if b <= start and end <= e]
    if not inside:
        broken.append(("outside_hours", _("The doctor does not work at that time.")))
    elif (start - inside[0][0]) % dt.timedelta(minutes=treatment.duration_minutes):
        broken.append(("off_grid", _("The start is not on the treatment's time grid.")))
    if Leave.objects.filter(doctor=doctor, starts_at__lt=end, ends_at__gt=start).exists():
        broken.append(("on_leave", _("The doctor is on leave then.")))
    return broken


def appointment_book(
    *,
    patient: Patient,
    doctor: User,
    treatment: Treatment,
    start: dt.datetime,
    booked_by: User,
    override: Override | None = None,
    address: str | None = None,
) -> Appointment:
    """Book a visit. Patients always get the strict rules; staff may override a rule with a
    reason. A clash with another active booking of the doctor or the patient is a 409, decided
    by the database's exclusion constraints, never by a check that a concurrent request could
    pass too."""
    if doctor.role != Role.DOCTOR or not doctor.is_active:
        raise DomainError.invalid("doctor_id", _("Not an active doctor of this branch."))
    if not treatment.active:
        raise DomainError.invalid("treatment_id", _("This treatment is not offered any more."))
    if timezone.is_naive(start):
        raise DomainError.invalid("start", _("Give the start with its time zone offset."))
    if override is not None and booked_by.role not in (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST):
        raise DomainError.forbidden(_("Only staff may override the booking rules."))
    if override is not None and len(override.reason.strip()) < 5:
        raise DomainError.invalid("override_reason", _("Say why the rule is broken."))
    end = start + dt.timedelta(minutes=treatment.duration_minutes)
    broken = _rules_broken(doctor=doctor, treatment=treatment, start=start, end=end)
    if broken and override is None:
        code, message = broken[0]
        raise DomainError(message, kind="invalid", code=code, field="start")
    appointment = Appointment(
        patient=patient,
        doctor=doctor,
        treatment=treatment,
        start=start,
        end=end,
        booked_by=booked_by,
        overbooked=bool(override and override.overbook),
        override_reason=override.reason.strip() if override else "",
    )
    try:
        with transaction.atomic():
            appointment.save(force_insert=True)
            patient_assign_doctor(patient=patient, doctor=doctor, actor=booked_by, address=address, reason="booking")
            audit_record(
                actor=booked_by,
                action=AuditEvent.Action.BOOK,
                patient_id=patient.pk,
                address=address,
                appointment_id=appointment.pk,
                start=start.isoformat(),
                overrides=[code for code, _m in broken],
                override_reason=appointment.override_reason,
                overbooked=appointment.overbooked,
            )
    except IntegrityError as exc:
        raise _clash(exc, doctor=doctor, patient=patient, start=start, end=end) from exc
    return appointment


def _clash(exc: IntegrityError, *, doctor: User, patient: Patient, start: dt.datetime, end: dt.datetime) -> DomainError:
    text = str(exc)
    if DOCTOR_CLASH in text:
        who, taken = "doctor", Appointment.objects.filter(doctor=doctor, overbooked=False)
    elif PATIENT_CLASH in text:
        who, taken = "patient", Appointment.objects.filter(patient=patient)
    else:
        raise exc
    other = taken.filter(status__in=Appointment.ACTIVE, start__lt=end, end__gt=start).order_by("start").first()
    when = other.start.astimezone(branch_zone()).strftime("%H:%M") if other else ""
    message = (
        _("The doctor is already booked at %(time)s.")
        if who == "doctor"
        else _("The patient is already booked at %(time)s.")
    ) % {"time": when}
    return DomainError.conflict(message, code=f"{who}_taken", extra={"taken_by": who, "clash_start": when})


def appointment_cancel(
    *, appointment: Appointment, cancelled_by: User, reason: str, address: str | None = None
) -> Appointment:
    """Cancel a booked or checked-in visit; the slot is free again at once."""
    reason = (reason or "").strip()
    if "\x00" in reason or len(reason) > 300:
        raise DomainError.invalid("reason", _("At most 300 characters, without control characters."))
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status not in Appointment.ACTIVE:
            raise DomainError.conflict(
                _("This appointment is %(status)s already.") % {"status": locked.get_status_display().lower()},
                code="not_active",
            )
        locked.status = Appointment.Status.CANCELLED
        locked.cancelled_by, locked.cancelled_at, locked.cancel_reason = cancelled_by, timezone.now(), reason
        locked.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
        audit_record(
            actor=cancelled_by,
            action=AuditEvent.Action.CANCEL,
            patient_id=locked.patient_id,
            address=address,
            appointment_id=locked.pk,
            reason=reason,
        )
    return locked
