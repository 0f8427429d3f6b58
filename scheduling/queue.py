"""The front desk's queue: the day's real flow. A booked patient gets a token when checked in, a
walk-in at once (an appointment is made for them, outside the doctor's booked slots). Tokens are
numbered per doctor, session (a working interval of the day) and kind, by one atomic statement.
The doctor calls the next patient in the branch's order; skip, recall, "with the doctor", seen
and "left without being seen" are timed, each in ``QueueEvent``.

The branch decides (``Hospital.queue_*``): each kind's prefix and first number, whether booked
patients whose time has come go before walk-ins or everyone goes strictly as they came, whether a
late arrival goes next or to the end, when a patient counts as late, and when a wait shows red."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, DateTimeField, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from core.branch import branch_current, branch_moment, branch_zone
from core.db import current_schema
from core.errors import DomainError
from scheduling.models import Appointment, Leave, QueueCounter, QueueEntry, QueueEvent, WorkingHours
from scheduling.services import (
    STAFF_ROLES,
    Override,
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
)

# Who adds walk-ins and checks in (the desk and admins); who calls patients (their doctor, or an
# admin standing in); who may skip, recall and mark a patient gone (the desk too).
CALL_ROLES: frozenset[str] = frozenset({Role.DOCTOR, Role.HOSPITAL_ADMIN})
STEER_ROLES: frozenset[str] = frozenset({Role.DOCTOR, Role.HOSPITAL_ADMIN, Role.RECEPTIONIST})
WALK_IN_REASON = "Walk-in"
LEFT_REASON = "Left without being seen"
_CALL_LOCK_CLASS = 7315
_TOKEN_ATTEMPTS = 1000


# --- sessions and tokens ---------------------------------------------------------------------------


def doctor_sessions(doctor: User, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The doctor's working intervals of ``day`` (branch time) as instants, in order."""
    zone = branch_zone()
    return sorted(
        (branch_moment(day, hours.starts, zone), branch_moment(day, hours.ends, zone))
        for hours in WorkingHours.objects.filter(doctor=doctor, weekday=day.weekday())
    )


def _session_start(doctor: User, day: dt.date, moment: dt.datetime) -> dt.time:
    """The session ``moment`` belongs to: the interval it falls in, else the next one, else the
    last of the day; a day without hours is one session from midnight. Once a session of the day
    has numbered tokens it stays: hours changed during the day do not start a second B1."""
    sessions = doctor_sessions(doctor, day)
    zone = branch_zone()
    start = dt.time(0)
    if sessions:
        start = next(
            (begins.astimezone(zone).time() for begins, ends in sessions if moment < ends),
            sessions[-1][0].astimezone(zone).time(),
        )
    numbered = set(QueueCounter.objects.filter(doctor=doctor, day=day).values_list("session_start", flat=True))
    # Sessions numbered today that no longer start an interval: their hours were changed since.
    orphaned = numbered - {begins.astimezone(zone).time() for begins, _ends in sessions}
    if orphaned and start not in numbered:
        local = moment.astimezone(zone).time() if moment.astimezone(zone).date() == day else dt.time.max
        earlier = [begun for begun in orphaned if begun <= max(local, start)]
        if earlier:
            return max(earlier)
    return start


def _token_rule(kind: str) -> tuple[str, int]:
    rules = branch_current().queue_tokens or {}
    rule = rules.get(kind) or {}
    prefix = str(rule.get("prefix", ""))
    start = rule.get("start", 1)
    return prefix, start if isinstance(start, int) and start >= 0 else 1


def _number_take(*, doctor: User, day: dt.date, session_start: dt.time, kind: str, start: int) -> int:
    """The next number of the (doctor, day, session, kind) sequence, in one statement: two desks
    at once wait for each other's row and get two numbers."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduling_queuecounter (doctor_id, day, session_start, kind, last)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (doctor_id, day, session_start, kind)
            DO UPDATE SET last = scheduling_queuecounter.last + 1
            RETURNING last
            """,
            [doctor.pk, day, session_start.isoformat(), kind, start],
        )
        (number,) = cursor.fetchone()
    return number


def _entry_make(
    *, appointment: Appointment, doctor: User, patient: Patient, kind: str, actor: User, now: dt.datetime
) -> QueueEntry:
    """The entry and its token (``doctor`` and ``patient`` are the appointment's, passed as the
    caller has them: the appointment a transition returns is re-read without them)."""
    zone = branch_zone()
    day = appointment.start.astimezone(zone).date() if kind != QueueEntry.Kind.WALK_IN else now.astimezone(zone).date()
    # A booked patient, late or not, belongs to the session of the booking; a walk-in to now's.
    anchor = now if kind == QueueEntry.Kind.WALK_IN else appointment.start
    session_start = _session_start(doctor, day, anchor)
    prefix, start = _token_rule(kind)
    for _attempt in range(_TOKEN_ATTEMPTS):
        number = _number_take(doctor=doctor, day=day, session_start=session_start, kind=kind, start=start)
        entry = QueueEntry(
            appointment=appointment,
            doctor=doctor,
            patient=patient,
            day=day,
            session_start=session_start,
            kind=kind,
            number=number,
            token=f"{prefix}{number}",
            arrived_at=now,
        )
        try:
            with transaction.atomic():
                entry.save(force_insert=True)
        except IntegrityError as exc:
            # Two kinds numbered in overlapping ranges without prefixes: this number is another
            # kind's token already; the sequence moves on.
            if "scheduling_queue_token" not in str(exc):
                raise
            continue
        QueueEvent.objects.create(entry=entry, state=entry.state, at=now, actor=actor)
        return entry
    raise DomainError.conflict(_("No free token number is left for this session."), code="tokens_exhausted")


# --- arriving ----------------------------------------------------------------------------------------


def queue_check_in(
    *, appointment: Appointment, actor: User, address: str | None = None, now: dt.datetime | None = None
) -> QueueEntry:
    """A booked patient has arrived: checked in (on the day of the visit) with a token, a late
    one's if they came after the branch's grace."""
    now = now or timezone.now()
    late_after = dt.timedelta(minutes=branch_current().queue_late_minutes)
    with transaction.atomic():
        checked = appointment_check_in(appointment=appointment, actor=actor, address=address)
        kind = QueueEntry.Kind.LATE if now > checked.start + late_after else QueueEntry.Kind.BOOKED
        return _entry_make(
            appointment=checked, doctor=appointment.doctor, patient=appointment.patient, kind=kind, actor=actor, now=now
        )


def queue_walk_in(
    *,
    patient: Patient,
    doctor: User,
    treatment: Treatment,
    actor: User,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> QueueEntry:
    """A patient without a booking joins the doctor's queue now: their visit is booked from now
    (outside the booked slots, as staff overbook) and checked in, with a walk-in token. A patient
    already booked at this time is checked in instead (409 names it)."""
    now = now or timezone.now()
    if actor.role not in STAFF_ROLES:
        raise DomainError.forbidden(_("Only the front desk adds walk-ins."))
    sessions = doctor_sessions(doctor, now.astimezone(branch_zone()).date())
    if not sessions:
        raise DomainError.invalid("doctor_id", _("The doctor does not see patients today."), code="not_working")
    if now >= sessions[-1][1]:
        raise DomainError.invalid("doctor_id", _("The doctor's last session today has ended."), code="not_working")
    if Leave.objects.filter(doctor=doctor, starts_at__lte=now, ends_at__gt=now).exists():
        raise DomainError.invalid("doctor_id", _("The doctor is on leave now."), code="on_leave")
    with transaction.atomic():
        booked = appointment_book(
            patient=patient,
            doctor=doctor,
            treatment=treatment,
            start=now,
            booked_by=actor,
            override=Override(reason=WALK_IN_REASON, overbook=True),
            address=address,
        )
        checked = appointment_check_in(appointment=booked, actor=actor, address=address)
        return _entry_make(
            appointment=checked, doctor=doctor, patient=patient, kind=QueueEntry.Kind.WALK_IN, actor=actor, now=now
        )


# --- the order and the doctor's calls -------------------------------------------------------------


def queue_ordered(entries: QuerySet[QueueEntry], *, now: dt.datetime) -> QuerySet[QueueEntry]:
    """``entries`` in the order "call next" takes them, by the branch's rules: earlier sessions
    first; within one, late arrivals first if the branch puts them next; then, for "booked
    first", booked patients whose time has come (by their time), walk-ins and late arrivals as
    they came, and booked patients still early; for "arrival", everyone as they came."""
    branch = branch_current()
    late_next = branch.queue_late_rule == "next"
    groups: list[When] = []
    if late_next:
        groups.append(When(kind=QueueEntry.Kind.LATE, then=Value(0)))
    if branch.queue_order == "booked_first":
        groups += [
            When(kind=QueueEntry.Kind.BOOKED, appointment__start__lte=now, then=Value(1)),
            When(kind=QueueEntry.Kind.BOOKED, then=Value(3)),
        ]
    by_time = Q(kind=QueueEntry.Kind.BOOKED) if branch.queue_order == "booked_first" else Q(pk__in=[])
    return entries.annotate(
        group=Case(*groups, default=Value(2), output_field=IntegerField()),
        key=Case(When(by_time, then=F("appointment__start")), default=F("arrived_at"), output_field=DateTimeField()),
    ).order_by("day", "session_start", "group", "key", "arrived_at", "number")


@dataclass(frozen=True)
class Called:
    """What "call next" did: the patient it called (None if no one was waiting) and whom it
    finished."""

    entry: QueueEntry | None
    finished: list[QueueEntry]


def _doctor_check(*, doctor: User, actor: User, roles: frozenset[str]) -> None:
    if actor.role not in roles:
        raise DomainError.forbidden(_("Your role cannot do this."))
    if actor.role == Role.DOCTOR and actor.pk != doctor.pk:
        raise DomainError.forbidden(_("Only the patient's doctor can do this."))


def _lock_doctors_day(doctor: User, day: dt.date) -> None:
    """One call at a time per doctor and day: two clicks at once never call two patients."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            [_CALL_LOCK_CLASS, f"{current_schema()}:{doctor.pk}:{day}"],
        )


def _moved(entry: QueueEntry, state: str, *, actor: User, now: dt.datetime, **stamps) -> QueueEntry:
    entry.state = state
    for name, value in stamps.items():
        setattr(entry, name, value)
    entry.save(update_fields=["state", *stamps])
    QueueEvent.objects.create(entry=entry, state=state, at=now, actor=actor)
    return entry


def _seen(entry: QueueEntry, *, actor: User, now: dt.datetime, address: str | None = None) -> QueueEntry:
    """The doctor has seen the patient: the visit completed, which closes the entry as seen
    (scheduling.services.queue_entry_close)."""
    if entry.appointment.status == Appointment.Status.CHECKED_IN:
        appointment_complete(appointment=entry.appointment, actor=actor, address=address)
        entry.refresh_from_db()
        return entry
    return _moved(entry, QueueEntry.State.DONE, actor=actor, now=now, finished_at=now)


def queue_call_next(
    *,
    doctor: User,
    actor: User,
    expected: set[uuid.UUID] | None = None,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> Called:
    """Finish the patient with the doctor (or called), and call the next waiting one.

    ``expected`` is whom the caller saw as current (called or with the doctor; empty: nobody). If
    the queue has moved since (a second device, a retry, a double click in two tabs), nothing is
    done (409): a patient who never came in must not be marked seen by someone else's call."""
    now = now or timezone.now()
    _doctor_check(doctor=doctor, actor=actor, roles=CALL_ROLES)
    day = now.astimezone(branch_zone()).date()
    with transaction.atomic():
        _lock_doctors_day(doctor, day)
        today = (
            QueueEntry.objects.select_for_update(of=("self",))
            .select_related("appointment")
            .filter(doctor=doctor, day=day)
        )
        current = list(today.filter(state__in=(QueueEntry.State.CALLED, QueueEntry.State.WITH_DOCTOR)))
        if expected is not None and {entry.pk for entry in current} != expected:
            raise DomainError.conflict(
                _("The queue has changed since your page was shown: look again before calling."),
                code="queue_changed",
                extra={"current": [entry.token for entry in current]},
            )
        finished = [_seen(entry, actor=actor, now=now, address=address) for entry in current]
        waiting = today.filter(state=QueueEntry.State.WAITING, appointment__status=Appointment.Status.CHECKED_IN)
        following = queue_ordered(waiting, now=now).first()
        if following is None:
            return Called(entry=None, finished=finished)
        called = _moved(
            following, QueueEntry.State.CALLED, actor=actor, now=now, called_at=now, calls=following.calls + 1
        )
        return Called(entry=called, finished=finished)


def _entry_locked(entry: QueueEntry) -> QueueEntry:
    return QueueEntry.objects.select_for_update(of=("self",)).select_related("appointment", "doctor").get(pk=entry.pk)


def _not_now(entry: QueueEntry, message: str) -> DomainError:
    return DomainError.conflict(
        f"{message} " + _("Token %(token)s is %(state)s.") % {"token": entry.token, "state": entry.get_state_display()},
        code="wrong_state",
        extra={"state": entry.state},
    )


def _step(
    entry: QueueEntry,
    *,
    actor: User,
    roles: frozenset[str],
    allowed_from: tuple[str, ...],
    refusal: str,
    now: dt.datetime | None,
    change,
) -> QueueEntry:
    now = now or timezone.now()
    _doctor_check(doctor=entry.doctor, actor=actor, roles=roles)
    with transaction.atomic():
        _lock_doctors_day(entry.doctor, entry.day)
        locked = _entry_locked(entry)
        if locked.state not in allowed_from:
            raise _not_now(locked, refusal)
        return change(locked, now)


def queue_skip(*, entry: QueueEntry, actor: User, now: dt.datetime | None = None) -> QueueEntry:
    """Called but not at the door: set aside until recalled; "call next" passes them by."""
    return _step(
        entry,
        actor=actor,
        roles=STEER_ROLES,
        allowed_from=(QueueEntry.State.CALLED,),
        refusal=_("Only a called patient can be skipped."),
        now=now,
        change=lambda e, at: _moved(e, QueueEntry.State.SKIPPED, actor=actor, now=at),
    )


def queue_recall(*, entry: QueueEntry, actor: User, now: dt.datetime | None = None) -> QueueEntry:
    """Call a skipped patient (or a called one, again: the board shows the token anew)."""
    return _step(
        entry,
        actor=actor,
        roles=STEER_ROLES,
        allowed_from=(QueueEntry.State.SKIPPED, QueueEntry.State.CALLED),
        refusal=_("Only a called or skipped patient can be called again."),
        now=now,
        change=lambda e, at: _moved(e, QueueEntry.State.CALLED, actor=actor, now=at, called_at=at, calls=e.calls + 1),
    )


def queue_start(*, entry: QueueEntry, actor: User, now: dt.datetime | None = None) -> QueueEntry:
    """The called patient is in the consulting room."""
    return _step(
        entry,
        actor=actor,
        roles=CALL_ROLES,
        allowed_from=(QueueEntry.State.CALLED,),
        refusal=_("Only a called patient can go in."),
        now=now,
        change=lambda e, at: _moved(e, QueueEntry.State.WITH_DOCTOR, actor=actor, now=at, started_at=at),
    )


def queue_done(
    *, entry: QueueEntry, actor: User, address: str | None = None, now: dt.datetime | None = None
) -> QueueEntry:
    """The doctor has seen the patient (without calling the next one)."""
    return _step(
        entry,
        actor=actor,
        roles=CALL_ROLES,
        allowed_from=(QueueEntry.State.CALLED, QueueEntry.State.WITH_DOCTOR),
        refusal=_("Only a called patient or one with the doctor can be marked seen."),
        now=now,
        change=lambda e, at: _seen(e, actor=actor, now=at, address=address),
    )


def queue_left(
    *, entry: QueueEntry, actor: User, address: str | None = None, now: dt.datetime | None = None
) -> QueueEntry:
    """The patient went away unseen: their place is freed, and their visit cancelled with the
    reason (the doctor's slot is free again)."""

    def gone(locked: QueueEntry, at: dt.datetime) -> QueueEntry:
        if locked.appointment.status not in Appointment.ACTIVE:  # cancelled elsewhere already
            return _moved(locked, QueueEntry.State.LEFT, actor=actor, now=at, finished_at=at)
        # Cancelling the visit closes its entry as gone (scheduling.services.queue_entry_close).
        appointment_cancel(appointment=locked.appointment, cancelled_by=actor, reason=LEFT_REASON, address=address)
        locked.refresh_from_db()
        return locked

    return _step(
        entry,
        actor=actor,
        roles=STEER_ROLES,
        allowed_from=(QueueEntry.State.WAITING, QueueEntry.State.CALLED, QueueEntry.State.SKIPPED),
        refusal=_("Only a patient still waiting can leave the queue."),
        now=now,
        change=gone,
    )
