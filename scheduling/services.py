"""Booking and the rules of a doctor's day: free slots, the strict rules for patients, staff
overrides with a reason, and the database as the last word on clashes."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from clinical.audit import audit_record
from clinical.models import AuditEvent, Patient, Treatment, TreatmentRecord
from clinical.services import follow_up_done, patient_assign_doctor
from core.branch import branch_moment, branch_today, branch_zone
from core.errors import DomainError
from scheduling.models import Appointment, DoctorProfile, Leave, QueueEntry, QueueEvent, WorkingHours
from scheduling.reminders import CONFIRM_TASK, patient_reachable
from workers.outbox import outbox_enqueue

DOCTOR_CLASH = "scheduling_appt_doctor_no_overlap"
PATIENT_CLASH = "scheduling_appt_patient_no_overlap"
# Who books, moves, cancels, checks in and marks no-shows (the desk and admins); who completes a
# visit (its doctor, or an admin). The API's routes and the pages' buttons both use these.
STAFF_ROLES: frozenset[str] = frozenset({Role.HOSPITAL_ADMIN, Role.RECEPTIONIST})
COMPLETE_ROLES: frozenset[str] = frozenset({Role.DOCTOR, Role.HOSPITAL_ADMIN})
# How far from today a visit may be booked, back-entries included.
BOOKING_HORIZON = dt.timedelta(days=2 * 366)
# Tells a patient their visit was moved or cancelled (scheduling/tasks.py).
NOTICE_TASK = "scheduling.send_appointment_notice"


def _intervals(doctor: User, day: dt.date, zone: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The doctor's working intervals of ``day`` as instants (UTC)."""
    return [
        (branch_moment(day, hours.starts, zone), branch_moment(day, hours.ends, zone))
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
        # Steps in real time (the instants are UTC): across a clock change the wall-clock labels
        # shift, the durations do not.
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


def _booking_checked(
    *, doctor: User, treatment: Treatment, start: dt.datetime, actor: User, override: Override | None
) -> tuple[dt.datetime, dt.datetime, list[tuple[str, str]]]:
    """The start and end (UTC) of a visit starting at ``start``, and the rules it breaks under
    ``override``; a broken rule without an override is refused here."""
    if doctor.role != Role.DOCTOR or not doctor.is_active:
        raise DomainError.invalid("doctor_id", _("Not an active doctor of this branch."))
    if not treatment.active:
        raise DomainError.invalid("treatment_id", _("This treatment is not offered any more."))
    if timezone.is_naive(start):
        raise DomainError.invalid("start", _("Give the start with its time zone offset."))
    try:  # in UTC: a duration added to a time of a zone with clock changes is wall-clock time
        start = start.astimezone(dt.UTC)
        too_far = abs(start - timezone.now()) > BOOKING_HORIZON
    except OverflowError:
        too_far = True
    if too_far:
        raise DomainError.invalid("start", _("The start must be within two years of today."))
    if override is not None and actor.role not in STAFF_ROLES:
        raise DomainError.forbidden(_("Only staff may override the booking rules."))
    if override is not None and len(override.reason.strip()) < 5:
        raise DomainError.invalid("override_reason", _("Say why the rule is broken."))
    if override is not None and (len(override.reason) > 300 or any(ord(ch) < 32 for ch in override.reason)):
        raise DomainError.invalid("override_reason", _("At most 300 characters, without control characters."))
    end = start + dt.timedelta(minutes=treatment.duration_minutes)
    broken = _rules_broken(doctor=doctor, treatment=treatment, start=start, end=end)
    if broken and override is None:
        code, message = broken[0]
        raise DomainError(message, kind="invalid", code=code, field="start")
    return start, end, broken


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
    start, end, broken = _booking_checked(
        doctor=doctor, treatment=treatment, start=start, actor=booked_by, override=override
    )
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
            if start > timezone.now() and patient_reachable(appointment):
                outbox_enqueue(CONFIRM_TASK, appointment_id=str(appointment.pk))
    except IntegrityError as exc:
        raise _clash(exc, doctor=doctor, patient=patient, start=start, end=end) from exc
    return appointment


def appointment_reschedule(
    *,
    appointment: Appointment,
    start: dt.datetime,
    moved_by: User,
    doctor: User | None = None,
    override: Override | None = None,
    address: str | None = None,
    notify: bool = False,
) -> Appointment:
    """Move a booked visit to another start (and doctor) in one step: the row is updated in
    place, so the old place is given up in the same statement that takes the new one. If the new
    one is taken, nothing changes and the visit keeps its old place."""
    with transaction.atomic():
        locked = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient", "treatment", "doctor")
            .get(pk=appointment.pk)
        )
        if locked.status != Appointment.Status.BOOKED:
            raise _not_in(locked, _("Only a booked appointment can be moved."))
        doctor = doctor or locked.doctor
        start, end, broken = _booking_checked(
            doctor=doctor, treatment=locked.treatment, start=start, actor=moved_by, override=override
        )
        was_start, was_doctor = locked.start, locked.doctor_id
        locked.start, locked.end, locked.doctor = start, end, doctor
        locked.overbooked = bool(override and override.overbook)
        locked.override_reason = override.reason.strip() if override else ""
        try:
            with transaction.atomic():
                locked.save(update_fields=["start", "end", "doctor", "overbooked", "override_reason"])
        except IntegrityError as exc:
            raise _clash(exc, doctor=doctor, patient=locked.patient, start=start, end=end, moving=locked) from exc
        if doctor.pk != was_doctor:
            patient_assign_doctor(
                patient=locked.patient, doctor=doctor, actor=moved_by, address=address, reason="booking"
            )
        audit_record(
            actor=moved_by,
            action=AuditEvent.Action.RESCHEDULE,
            patient_id=locked.patient_id,
            address=address,
            appointment_id=locked.pk,
            was_start=was_start.isoformat(),
            start=start.isoformat(),
            was_doctor=was_doctor,
            doctor=doctor.pk,
            overrides=[code for code, _m in broken],
            override_reason=locked.override_reason,
            overbooked=locked.overbooked,
        )
        if notify:
            outbox_enqueue(NOTICE_TASK, appointment_id=str(locked.pk), change="moved")
    return locked


# PostgreSQL names the row in the way: `… conflicts with existing key (tstzrange(start, "end"),
# doctor_id)=(["2026-12-01 09:00:00+00","2026-12-01 09:15:00+00"), 7).`
_EXISTING_START = re.compile(r'conflicts with existing key \(.*?\)=\(\["([^"]+)"')


def _clash(
    exc: IntegrityError,
    *,
    doctor: User,
    patient: Patient,
    start: dt.datetime,
    end: dt.datetime,
    moving: Appointment | None = None,
) -> DomainError:
    """The 409 for a refused insert or move, naming the visit in the way (never the one being
    moved: a row never conflicts with itself). The database's error says which constraint and
    which existing row; it is read from there, with a query only if it cannot be."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or str(exc)
    if DOCTOR_CLASH in constraint:
        who, taken = "doctor", Appointment.objects.filter(doctor=doctor, overbooked=False)
    elif PATIENT_CLASH in constraint:
        who, taken = "patient", Appointment.objects.filter(patient=patient)
    else:
        raise exc
    other_start = _existing_start(getattr(diag, "message_detail", None) or "")
    if other_start is None:
        if moving is not None:
            taken = taken.exclude(pk=moving.pk)
        other = taken.filter(status__in=Appointment.ACTIVE, start__lt=end, end__gt=start).order_by("start").first()
        other_start = other.start if other else None
    when = other_start.astimezone(branch_zone()).strftime("%H:%M") if other_start else ""
    message = (
        _("The doctor is already booked at %(time)s.")
        if who == "doctor"
        else _("The patient is already booked at %(time)s.")
    ) % {"time": when}
    return DomainError.conflict(message, code=f"{who}_taken", extra={"taken_by": who, "clash_start": when})


def _existing_start(detail: str) -> dt.datetime | None:
    match = _EXISTING_START.search(detail)
    if match is None:
        return None
    text = match.group(1)
    if re.search(r"[+-]\d\d$", text):  # PostgreSQL writes "+00"; Python wants "+00:00"
        text += ":00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def appointment_cancel(
    *,
    appointment: Appointment,
    cancelled_by: User,
    reason: str,
    address: str | None = None,
    notify: bool = False,
    check: Callable[[Appointment], None] | None = None,
) -> Appointment:
    """Cancel a booked or checked-in visit; the slot is free again at once. ``check`` may refuse
    the locked row first (the portal's rules), so nothing moves the visit in between."""
    reason = (reason or "").strip()
    if "\x00" in reason or len(reason) > 300:
        raise DomainError.invalid("reason", _("At most 300 characters, without control characters."))
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if check is not None:
            check(locked)
        if locked.status not in Appointment.ACTIVE:
            raise _not_in(locked, _("Only a booked or checked-in appointment can be cancelled."))
        locked.status = Appointment.Status.CANCELLED
        locked.cancelled_by, locked.cancelled_at, locked.cancel_reason = cancelled_by, timezone.now(), reason
        locked.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
        queue_entry_close(locked, state=QueueEntry.State.LEFT, actor=cancelled_by)
        audit_record(
            actor=cancelled_by,
            action=AuditEvent.Action.CANCEL,
            patient_id=locked.patient_id,
            address=address,
            appointment_id=locked.pk,
            reason=reason,
        )
        if notify:
            outbox_enqueue(NOTICE_TASK, appointment_id=str(locked.pk), change="cancelled")
    return locked


def _not_in(appointment: Appointment, message: str) -> DomainError:
    state = _("This one is %(status)s.") % {"status": appointment.get_status_display().lower()}
    return DomainError.conflict(
        f"{message} {state}",
        code="wrong_status",
        extra={"status": appointment.status},
    )


def _transition(
    *,
    appointment: Appointment,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    action: str,
    address: str | None,
    refusal: str,
    check: Callable[[Appointment], None] | None = None,
    **stamps: dt.datetime,
) -> Appointment:
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status not in allowed_from:
            raise _not_in(locked, refusal)
        if check is not None:
            check(locked)
        locked.status = to
        for field, value in stamps.items():
            setattr(locked, field, value)
        locked.save(update_fields=["status", *stamps])
        audit_record(
            actor=actor, action=action, patient_id=locked.patient_id, address=address, appointment_id=locked.pk
        )
    return locked


def appointment_check_in(*, appointment: Appointment, actor: User, address: str | None = None) -> Appointment:
    """The patient has arrived: on the day of the visit only."""

    def on_the_day(locked: Appointment) -> None:
        if locked.start.astimezone(branch_zone()).date() != branch_today():
            raise DomainError.conflict(_("A patient is checked in on the day of the visit."), code="not_today")

    return _transition(
        appointment=appointment,
        allowed_from=(Appointment.Status.BOOKED,),
        to=Appointment.Status.CHECKED_IN,
        actor=actor,
        action=AuditEvent.Action.CHECK_IN,
        address=address,
        refusal=_("Only a booked appointment can be checked in."),
        check=on_the_day,
        checked_in_at=timezone.now(),
    )


def queue_entry_close(appointment: Appointment, *, state: str, actor: User | None) -> None:
    """A visit cancelled or completed leaves the day's queue with it (seen, or gone), whichever
    screen changed it: the board and "call next" never show a visit that is over."""
    now = timezone.now()
    for entry in QueueEntry.objects.select_for_update().filter(appointment=appointment, state__in=QueueEntry.OPEN):
        entry.state, entry.finished_at = state, now
        entry.save(update_fields=["state", "finished_at"])
        QueueEvent.objects.create(entry=entry, state=state, at=now, actor=actor)


def appointment_complete(*, appointment: Appointment, actor: User, address: str | None = None) -> Appointment:
    """The doctor has seen the patient. Only the visit's doctor, or an admin, says so; the visit
    leaves the queue as seen."""
    if actor.role != Role.HOSPITAL_ADMIN and actor.pk != appointment.doctor_id:
        raise DomainError.forbidden(_("Only the doctor of this visit can complete it."))

    def close(locked: Appointment) -> None:
        queue_entry_close(locked, state=QueueEntry.State.DONE, actor=actor)

    return _transition(
        appointment=appointment,
        allowed_from=(Appointment.Status.CHECKED_IN,),
        to=Appointment.Status.COMPLETED,
        actor=actor,
        action=AuditEvent.Action.COMPLETE,
        address=address,
        refusal=_("Only a checked-in appointment can be completed."),
        check=close,
        completed_at=timezone.now(),
    )


def appointment_no_show(*, appointment: Appointment, actor: User, address: str | None = None) -> Appointment:
    """The patient did not come: only once the visit's time has begun."""

    def started(locked: Appointment) -> None:
        if locked.start > timezone.now():
            raise DomainError.conflict(_("A visit still to come cannot be a no-show."), code="not_started")

    return _transition(
        appointment=appointment,
        allowed_from=(Appointment.Status.BOOKED,),
        to=Appointment.Status.NO_SHOW,
        actor=actor,
        action=AuditEvent.Action.NO_SHOW,
        address=address,
        refusal=_("Only a booked appointment can be marked a no-show."),
        check=started,
    )


# --- a doctor's week and leave ---------------------------------------------------------------


def working_hours_set(*, doctor: User, week: dict[int, list[tuple[dt.time, dt.time]]], set_by: User) -> None:
    """Replace the doctor's weekly hours with ``week`` (weekday → intervals). Intervals of one day
    must not overlap. Booked visits stay where they are, even outside the new hours."""
    if doctor.role != Role.DOCTOR:
        raise DomainError.invalid("doctor", _("Working hours are for doctors."))
    errors = []
    for weekday, intervals in sorted(week.items()):
        ordered = sorted(intervals)
        for starts, ends in ordered:
            if starts >= ends:
                errors.append((f"day_{weekday}", _("Each interval must end after it starts.")))
                break
        else:
            if any(earlier[1] > later[0] for earlier, later in itertools.pairwise(ordered)):
                errors.append((f"day_{weekday}", _("The intervals of a day must not overlap.")))
    if errors:
        raise DomainError.invalid_fields(errors)
    with transaction.atomic():
        # One admin at a time replaces a doctor's week: two at once would leave both weeks.
        User.objects.select_for_update().filter(pk=doctor.pk).exists()
        WorkingHours.objects.filter(doctor=doctor).delete()
        WorkingHours.objects.bulk_create(
            WorkingHours(doctor=doctor, weekday=weekday, starts=starts, ends=ends)
            for weekday, intervals in week.items()
            for starts, ends in intervals
        )


def leave_add(*, doctor: User, starts_at: dt.datetime, ends_at: dt.datetime, reason: str, created_by: User) -> Leave:
    """Block the doctor's time. Visits already booked in it stay until the admin moves or cancels
    them (:func:`leave_settle`); no new ones can be booked there."""
    if doctor.role != Role.DOCTOR:
        raise DomainError.invalid("doctor", _("Leave is for doctors."))
    if starts_at >= ends_at:
        raise DomainError.invalid("ends_at", _("The leave must end after it starts."))
    if ends_at - starts_at > dt.timedelta(days=366):
        raise DomainError.invalid("ends_at", _("A leave is at most a year long."))
    reason = (reason or "").strip()
    if "\x00" in reason or len(reason) > 200:
        raise DomainError.invalid("reason", _("At most 200 characters, without control characters."))
    return Leave.objects.create(
        doctor=doctor, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=created_by
    )


def leave_remove(*, leave: Leave) -> None:
    leave.delete()


def leave_appointments(leave: Leave) -> list[Appointment]:
    """The active visits booked in the leave: they need moving or cancelling."""
    return list(
        Appointment.objects.select_related("patient", "treatment")
        .filter(
            doctor_id=leave.doctor_id,
            status__in=Appointment.ACTIVE,
            start__lt=leave.ends_at,
            end__gt=leave.starts_at,
        )
        .order_by("start")
    )


@dataclass(frozen=True)
class LeaveDecision:
    """What the admin chose for one visit in a leave: cancel it, or move it to ``start``."""

    appointment_id: object
    start: dt.datetime | None = None  # None: cancel


def leave_settle(
    *, leave: Leave, decisions: list[LeaveDecision], settled_by: User, address: str | None = None
) -> list[Appointment]:
    """Move or cancel the visits booked in a leave, all in one step: if any move is refused
    (taken meanwhile, outside hours), nothing changes. Each patient is told by e-mail."""
    affected = {a.pk: a for a in leave_appointments(leave)}
    chosen = {d.appointment_id: d for d in decisions}
    unknown = [key for key in chosen if key not in affected]
    if unknown:
        raise DomainError.invalid("decisions", _("A decision names a visit that is not in this leave."))
    reason = _("The doctor is not available then.")
    done = []
    with transaction.atomic():
        # Every visit of the step locked first, in one order, before any audit row takes the
        # branch's audit lock: the desk working on one of them meanwhile waits, never deadlocks.
        list(Appointment.objects.select_for_update().filter(pk__in=list(chosen)).order_by("pk"))
        for pk, appointment in affected.items():
            decision = chosen.get(pk)
            if decision is None:
                continue
            try:
                if decision.start is None:
                    done.append(
                        appointment_cancel(
                            appointment=appointment,
                            cancelled_by=settled_by,
                            reason=reason,
                            address=address,
                            notify=True,
                        )
                    )
                else:
                    done.append(
                        appointment_reschedule(
                            appointment=appointment,
                            start=decision.start,
                            moved_by=settled_by,
                            address=address,
                            notify=True,
                        )
                    )
            except DomainError as exc:
                when = appointment.start.astimezone(branch_zone()).strftime("%d %b %H:%M")
                raise DomainError(
                    _("%(patient)s (%(when)s): %(problem)s")
                    % {"patient": appointment.patient.display_name, "when": when, "problem": exc.message},
                    kind=exc.kind,
                    code=exc.code,
                    field=f"decision_{pk}",
                    extra=exc.extra,
                ) from exc
    return done


def free_slots_after(
    *, doctor: User, treatment: Treatment, after: dt.datetime, count: int = 6, days: int = 28
) -> list[dt.datetime]:
    """The next ``count`` free starts of the doctor from ``after``, looking ``days`` ahead."""
    found: list[dt.datetime] = []
    day = after.astimezone(branch_zone()).date()
    for _offset in range(days):
        found += [s for s in doctor_slots(doctor=doctor, day=day, treatment=treatment) if s >= after]
        if len(found) >= count:
            break
        day += dt.timedelta(days=1)
    return found[:count]


def follow_up_book(
    *,
    record: TreatmentRecord,
    doctor: User,
    treatment: Treatment,
    start: dt.datetime,
    booked_by: User,
    override: Override | None = None,
    address: str | None = None,
) -> Appointment:
    """Book the follow-up a doctor advised and take it off the desk's list, in one step. Two
    desks booking the same follow-up at once: the second is told it is booked already."""
    with transaction.atomic():
        still_open = (
            TreatmentRecord.objects.select_for_update()
            .filter(lineage=record.lineage, is_current=True, follow_up_done_at__isnull=True)
            .exists()
        )
        if not still_open:
            raise DomainError.conflict(_("This follow-up is booked or settled already."), code="follow_up_settled")
        appointment = appointment_book(
            patient=record.patient,
            doctor=doctor,
            treatment=treatment,
            start=start,
            booked_by=booked_by,
            override=override,
            address=address,
        )
        follow_up_done(record=record, actor=booked_by, address=address)
    return appointment


PROFILE_FIELDS = ("specialty", "department", "qualifications", "registration_number", "room")


def doctor_profile_save(*, doctor: User, data: dict[str, str]) -> DoctorProfile:
    """What prescriptions print and patients see about a doctor."""
    if doctor.role != Role.DOCTOR:
        raise DomainError.invalid("doctor", _("Profiles are for doctors."))
    clean = {name: (data.get(name) or "").strip() for name in PROFILE_FIELDS}
    errors = [
        (name, _("At most %(n)d characters, without control characters.") % {"n": limit})
        for name, limit in zip(PROFILE_FIELDS, (100, 100, 200, 50, 50), strict=True)
        if len(clean[name]) > limit or any(ord(ch) < 32 for ch in clean[name])
    ]
    if errors:
        raise DomainError.invalid_fields(errors)
    profile, _created = DoctorProfile.objects.update_or_create(user=doctor, defaults=clean)
    return profile
