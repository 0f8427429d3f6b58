"""Reads of the scheduling app: doctors with their profiles, appointments as each role sees them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Role, User
from core.branch import branch_moment, branch_zone
from scheduling.models import Appointment, Leave, QueueEntry, WorkingHours


def doctors_list(*, specialty: str = "", department: str = "") -> QuerySet[User]:
    doctors = User.objects.filter(role=Role.DOCTOR, is_active=True).select_related("doctor_profile")
    if specialty:
        doctors = doctors.filter(doctor_profile__specialty__iexact=specialty)
    if department:
        doctors = doctors.filter(doctor_profile__department__iexact=department)
    return doctors.order_by("full_name", "pk")


def appointments_for(
    *,
    user: User,
    doctor_id: int | None = None,
    patient_id: uuid.UUID | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    status: str = "",
) -> QuerySet[Appointment]:
    """Appointments as a role sees them: the desk and admins every one, a doctor their own."""
    appointments = Appointment.objects.select_related("patient", "doctor", "treatment", "queue_entry")
    if user.role == Role.DOCTOR:
        appointments = appointments.filter(doctor=user)
    elif user.role not in (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST):
        return appointments.none()
    if doctor_id:
        appointments = appointments.filter(doctor_id=doctor_id)
    if patient_id:
        appointments = appointments.filter(patient_id=patient_id)
    if starts_from:
        appointments = appointments.filter(start__gte=starts_from)
    if starts_before:
        appointments = appointments.filter(start__lt=starts_before)
    if status:
        appointments = appointments.filter(status=status)
    return appointments.order_by("start", "pk")


def appointment_get(appointment_id: uuid.UUID) -> Appointment | None:
    return Appointment.objects.select_related("patient", "doctor", "treatment").filter(pk=appointment_id).first()


# --- the dashboard's calendar, day list and chart ----------------------------------------------

GRID_STEP = dt.timedelta(minutes=15)
# Shown when a doctor has no hours in the range: the working day most clinics keep.
GRID_DEFAULT = (dt.time(8), dt.time(18))


@dataclass
class GridCell:
    start: dt.datetime
    working: bool = False
    on_leave: bool = False
    past: bool = False
    appointments: list[Appointment] = field(default_factory=list)
    taken: bool = False

    @property
    def bookable(self) -> bool:
        return self.working and not self.on_leave and not self.past and not self.taken


@dataclass
class GridRow:
    label: dt.time
    cells: list[GridCell]


@dataclass
class ScheduleGrid:
    doctor: User
    days: list[dt.date]
    rows: list[GridRow]
    appointments: list[Appointment]


DAY = 24 * 60


def _minutes(at: dt.time) -> int:
    return at.hour * 60 + at.minute


def schedule_grid(*, doctor: User, first_day: dt.date, days: int, now: dt.datetime | None = None) -> ScheduleGrid:
    """A doctor's days as a calendar: rows of 15 minutes from the earliest hour they work (or
    have a visit) to the latest, a column a day, each cell marked working, on leave, taken or
    free, with the visits that start in it."""
    now = now or timezone.now()
    zone = branch_zone()
    dates = [first_day + dt.timedelta(days=n) for n in range(days)]
    hours = list(WorkingHours.objects.filter(doctor=doctor, weekday__in={d.weekday() for d in dates}))
    range_start = branch_moment(dates[0], dt.time.min, zone)
    range_end = branch_moment(dates[-1] + dt.timedelta(days=1), dt.time.min, zone)
    appointments = list(
        Appointment.objects.select_related("patient", "treatment", "queue_entry")
        .filter(doctor=doctor, start__lt=range_end, end__gt=range_start)
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("start")
    )
    leave = list(Leave.objects.filter(doctor=doctor, starts_at__lt=range_end, ends_at__gt=range_start))
    starts = [_minutes(h.starts) for h in hours] + [_minutes(a.start.astimezone(zone).time()) for a in appointments]
    ends = [_minutes(h.ends) for h in hours] + [_minutes(a.end.astimezone(zone).time()) or DAY for a in appointments]
    first, last = (min(starts), max(ends)) if starts else (_minutes(GRID_DEFAULT[0]), _minutes(GRID_DEFAULT[1]))
    step = int(GRID_STEP.total_seconds() // 60)
    rows = [GridRow(label=dt.time(m // 60, m % 60), cells=[]) for m in range(first - first % 60, last, step)]
    active = [a for a in appointments if a.status in Appointment.ACTIVE and not a.overbooked]
    for row in rows:
        for day in dates:
            start = branch_moment(day, row.label, zone)
            end = start + GRID_STEP
            row.cells.append(
                GridCell(
                    start=start,
                    working=any(h.weekday == day.weekday() and h.starts <= row.label < h.ends for h in hours),
                    on_leave=any(lv.starts_at < end and start < lv.ends_at for lv in leave),
                    past=start < now,
                    taken=any(a.start < end and start < a.end for a in active),
                    appointments=[a for a in appointments if start <= a.start < end],
                )
            )
    return ScheduleGrid(doctor=doctor, days=dates, rows=rows, appointments=appointments)


def day_list(*, doctor: User, day: dt.date) -> list[Appointment]:
    """A doctor's visits of a day, in order, cancelled ones left out: "my day" and the printed list."""
    zone = branch_zone()
    return list(
        Appointment.objects.select_related("patient", "treatment", "queue_entry")
        .filter(
            doctor=doctor,
            start__gte=branch_moment(day, dt.time.min, zone),
            start__lt=branch_moment(day + dt.timedelta(days=1), dt.time.min, zone),
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("start")
    )


def appointments_per_day(*, user: User, first_day: dt.date, last_day: dt.date) -> list[tuple[dt.date, int]]:
    """How many visits (cancelled ones left out) each day from ``first_day`` to ``last_day``,
    in the branch's days, as the user sees the schedule."""
    zone = branch_zone()
    counts = dict(
        appointments_for(user=user)
        .filter(
            start__gte=branch_moment(first_day, dt.time.min, zone),
            start__lt=branch_moment(last_day + dt.timedelta(days=1), dt.time.min, zone),
        )
        .exclude(status=Appointment.Status.CANCELLED)
        .annotate(day=TruncDate("start", tzinfo=zone))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    days = (last_day - first_day).days + 1
    return [(first_day + dt.timedelta(days=n), counts.get(first_day + dt.timedelta(days=n), 0)) for n in range(days)]


def leave_of(doctor: User, *, upcoming_from: dt.datetime) -> QuerySet[Leave]:
    return Leave.objects.filter(doctor=doctor, ends_at__gt=upcoming_from).order_by("starts_at")


# --- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueView:
    """A doctor's queue of a day as the desk and the doctor see it."""

    doctor: User
    current: list[QueueEntry]  # called or with the doctor
    waiting: list[QueueEntry]  # in the order "call next" takes them
    skipped: list[QueueEntry]
    finished: list[QueueEntry]  # seen or gone, latest first
    minutes_each: float  # what a visit takes here today, for estimates


def queue_of(*, doctor: User, day: dt.date, now: dt.datetime | None = None) -> QueueView:
    from scheduling.queue import queue_ordered

    now = now or timezone.now()
    entries = QueueEntry.objects.filter(doctor=doctor, day=day).select_related(
        "patient", "doctor", "appointment__treatment"
    )
    current = list(
        entries.filter(state__in=(QueueEntry.State.CALLED, QueueEntry.State.WITH_DOCTOR)).order_by("called_at")
    )
    waiting = list(queue_ordered(entries.filter(state=QueueEntry.State.WAITING), now=now))
    skipped = list(entries.filter(state=QueueEntry.State.SKIPPED).order_by("called_at"))
    finished = list(entries.filter(state__in=(QueueEntry.State.DONE, QueueEntry.State.LEFT)).order_by("-finished_at"))
    return QueueView(
        doctor=doctor,
        current=current,
        waiting=waiting,
        skipped=skipped,
        finished=finished,
        minutes_each=_minutes_each(finished, waiting),
    )


def _minutes_each(finished: list[QueueEntry], waiting: list[QueueEntry]) -> float:
    """The mean of today's visits from call to seen, once there are three; before that, the
    treatments' booked lengths."""
    took = [
        (entry.finished_at - entry.called_at).total_seconds() / 60
        for entry in finished
        if entry.state == QueueEntry.State.DONE and entry.called_at and entry.finished_at
    ]
    if len(took) >= 3:
        return sum(took) / len(took)
    lengths = [entry.appointment.treatment.duration_minutes for entry in waiting]
    return sum(lengths) / len(lengths) if lengths else 15.0


@dataclass(frozen=True)
class QueuePlace:
    entry: QueueEntry
    ahead: int | None  # patients before them; None once they are called or done
    wait_minutes: int | None


def queue_place(entry: QueueEntry, view: QueueView) -> QueuePlace:
    """Where ``entry`` is in its doctor's queue (``view``): the patients before it (those with the
    doctor or called, and those waiting ahead) and an estimated wait; none once called or done."""
    ids = [waiting.pk for waiting in view.waiting]
    if entry.pk not in ids:
        return QueuePlace(entry=entry, ahead=None, wait_minutes=None)
    ahead = ids.index(entry.pk) + len(view.current)
    return QueuePlace(entry=entry, ahead=ahead, wait_minutes=round(ahead * view.minutes_each))


def queue_places(*, patient_ids: list, day: dt.date, now: dt.datetime | None = None) -> list[QueuePlace]:
    """Where these patients are in today's queues: their place and an estimated wait."""
    now = now or timezone.now()
    mine = (
        QueueEntry.objects.filter(patient_id__in=patient_ids, day=day).select_related("doctor").order_by("arrived_at")
    )
    views: dict[int, QueueView] = {}
    for entry in mine:
        if entry.doctor_id not in views:
            views[entry.doctor_id] = queue_of(doctor=entry.doctor, day=day, now=now)
    return [queue_place(entry, views[entry.doctor_id]) for entry in mine]


def queue_waited_minutes(entry: QueueEntry, *, now: dt.datetime) -> int:
    """From arrival to the call (or to leaving unseen), or to now while still waiting."""
    until = entry.called_at or (entry.finished_at if entry.state == QueueEntry.State.LEFT else None) or now
    return max(0, int((until - entry.arrived_at).total_seconds() // 60))


def queue_long_wait(entry: QueueEntry, *, now: dt.datetime, alert_minutes: int) -> bool:
    """Still waiting, for longer than the branch's threshold: the desk's red rows."""
    return entry.state == QueueEntry.State.WAITING and queue_waited_minutes(entry, now=now) >= alert_minutes


def queue_board(*, day: dt.date) -> list[dict]:
    """The waiting-room board: per doctor (and room), the tokens called now and the next few
    waiting. Tokens only: never a name."""
    board = []
    # Polled by every screen every few seconds: the day's doctors, not the day's every entry.
    doctors = User.objects.filter(pk__in=QueueEntry.objects.filter(day=day).values("doctor")).select_related(
        "doctor_profile"
    )
    for doctor in sorted(doctors, key=lambda d: d.full_name or d.username):
        view = queue_of(doctor=doctor, day=day)
        profile = getattr(doctor, "doctor_profile", None)
        board.append(
            {
                "doctor": doctor.full_name or doctor.username,
                "room": profile.room if profile else "",
                "called": [entry.token for entry in view.current],
                "next": [entry.token for entry in view.waiting[:5]],
            }
        )
    return board


def queue_entry_for(*, user: User, entry_id) -> QueueEntry | None:
    """A queue entry the user may act on: a doctor's own patients', any for the desk and admins."""
    entries = QueueEntry.objects.select_related("appointment", "doctor", "patient").filter(pk=entry_id)
    if user.role == Role.DOCTOR:
        entries = entries.filter(doctor=user)
    return entries.first()
