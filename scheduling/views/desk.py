"""The scheduling pages: the calendar of a doctor's day or week, booking with a slot picker,
the visit's buttons (check in, cancel, no-show, complete), the doctor's day, the printable day
list, and the home page's day and chart. Every change goes through ``scheduling.services``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import role_required, staff_required
from clinical import selectors as clinical_selectors
from clinical.models import AuditEvent, Patient, Treatment
from clinical.permissions import role_check
from core.branch import branch_day_start, branch_today, branch_zone
from core.errors import DomainError
from core.params import uuid_param, whole_number_param
from scheduling import selectors, services
from scheduling.models import Appointment
from scheduling.queue import queue_check_in

desk_required = role_required(Role.HOSPITAL_ADMIN, Role.RECEPTIONIST)
doctor_required = role_required(Role.DOCTOR)

WEEK = 7
CHART_DAYS = 14  # the home chart: this many days back and ahead
PATIENT_CHOICES = 10


def _day(value: str | None, default: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(value or "")
    except ValueError:
        return default
    return day if dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1) else default


def _doctors() -> list[User]:
    return list(selectors.doctors_list())


def _doctor_for(request: HttpRequest, doctors: list[User]) -> User | None:
    """The doctor a page is about: a doctor sees their own; staff pick one (the first by default)."""
    user: User = request.user  # type: ignore[assignment]
    if user.role == Role.DOCTOR:
        return user
    chosen = whole_number_param(request.GET.get("doctor"))
    return next((d for d in doctors if d.pk == chosen), doctors[0] if doctors else None)


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def schedule_url(doctor: User | int | None, day: dt.date, view: str = "day") -> str:
    params: dict[str, Any] = {"date": day.isoformat(), "view": view}
    if doctor:
        params["doctor"] = doctor if isinstance(doctor, int) else doctor.pk
    return f"{reverse('scheduling:schedule')}?{urlencode(params)}"


# --- the calendar -----------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET"])
def schedule(request: HttpRequest) -> HttpResponse:
    doctors = _doctors()
    doctor = _doctor_for(request, doctors)
    today = branch_today()
    day = _day(request.GET.get("date"), today)
    view = "week" if request.GET.get("view") == "week" else "day"
    first_day = day - dt.timedelta(days=day.weekday()) if view == "week" else day
    span = WEEK if view == "week" else 1
    context: dict[str, Any] = {
        "doctors": doctors,
        "doctor": doctor,
        "day": day,
        "view": view,
        "today": today,
        "may_book": request.user.role in services.STAFF_ROLES,  # type: ignore[union-attr]
        "time_zone": branch_zone().key,
        "previous": schedule_url(doctor, first_day - dt.timedelta(days=span), view),
        "next": schedule_url(doctor, first_day + dt.timedelta(days=span), view),
        "today_url": schedule_url(doctor, today, view),
        "day_url": schedule_url(doctor, day, "day"),
        "week_url": schedule_url(doctor, day, "week"),
    }
    if doctor is not None:
        context["grid"] = selectors.schedule_grid(doctor=doctor, first_day=first_day, days=span)
        context["here"] = request.get_full_path()
        context["now"] = timezone.now()
    return render(request, "scheduling/schedule.html", context)


# --- a visit's buttons ------------------------------------------------------------------------


def _change(request: HttpRequest, appointment: Appointment, action: str) -> Appointment:
    actor: User = request.user  # type: ignore[assignment]
    address = client_address(request)
    roles, audited = ACTION_ROLES[action]
    role_check(user=actor, roles=roles, action=audited, address=address, patient_id=appointment.patient_id)
    if action == "cancel":
        reason = request.POST.get("reason", "")[:300]
        return services.appointment_cancel(appointment=appointment, cancelled_by=actor, reason=reason, address=address)
    if action == "check-in":
        return queue_check_in(appointment=appointment, actor=actor, address=address).appointment
    change = {
        "no-show": services.appointment_no_show,
        "complete": services.appointment_complete,
    }[action]
    return change(appointment=appointment, actor=actor, address=address)


# Who may press each of a visit's buttons (the service checks the rest: a doctor completes only
# their own visits), and the audit action a refusal is recorded under.
ACTION_ROLES = {
    "cancel": (services.STAFF_ROLES, AuditEvent.Action.CANCEL),
    "check-in": (services.STAFF_ROLES, AuditEvent.Action.CHECK_IN),
    "no-show": (services.STAFF_ROLES, AuditEvent.Action.NO_SHOW),
    "complete": (services.COMPLETE_ROLES, AuditEvent.Action.COMPLETE),
}
DONE_MESSAGES = {
    "cancel": _("The appointment of %(name)s at %(time)s is cancelled; the slot is free again."),
    "check-in": _("%(name)s is checked in: token %(token)s."),
    "no-show": _("%(name)s is marked as not come."),
    "complete": _("The visit of %(name)s is completed."),
}


@staff_required
@require_POST
def appointment_action(request: HttpRequest, appointment_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in DONE_MESSAGES:
        raise Http404
    appointment = selectors.appointments_for(user=request.user).filter(pk=appointment_id).first()  # type: ignore[arg-type]
    if appointment is None:
        raise Http404(_("No such appointment."))
    back = _back(request, schedule_url(appointment.doctor_id, appointment.start.astimezone(branch_zone()).date()))
    try:
        changed = _change(request, appointment, action)
    except DomainError as exc:
        if exc.kind == "forbidden":
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
        return redirect(back)
    when = changed.start.astimezone(branch_zone()).strftime("%H:%M")
    token = getattr(getattr(changed, "queue_entry", None), "token", "")
    messages.success(
        request, DONE_MESSAGES[action] % {"name": changed.patient.display_name, "time": when, "token": token}
    )
    return redirect(back)


# --- booking, moving and follow-ups with the slot picker ---------------------------------------


def _booking_choices(request: HttpRequest, source: Any, *, sent: bool) -> dict[str, Any]:
    """What the booking page is about, from its query (GET) or form (POST): the patient, the
    visit being moved, the follow-up being booked, the doctor, treatment and day."""
    moving = None
    follow_up = None
    patient = None
    moved_id = uuid_param(source.get("move"))
    if moved_id:
        moving = selectors.appointments_for(user=request.user).filter(pk=moved_id).first()  # type: ignore[arg-type]
        if moving is None:
            raise Http404(_("No such appointment."))
        patient = moving.patient
    record_id = uuid_param(source.get("follow_up"))
    if record_id:
        # Sent: the service tells a follow-up another desk booked meanwhile (409, form kept).
        advised = clinical_selectors.follow_ups_advised() if sent else clinical_selectors.follow_ups_to_book()
        follow_up = advised.filter(pk=record_id).first()
        if follow_up is None:
            raise Http404(_("That follow-up is already off the list."))
        patient = follow_up.patient
    if patient is None:
        patient_id = uuid_param(source.get("patient"))
        patient = clinical_selectors.patient_get(patient_id) if patient_id else None
    doctors = _doctors()
    default_doctor = moving.doctor if moving else (follow_up.doctor if follow_up else None)
    doctor_id = whole_number_param(source.get("doctor")) or (default_doctor.pk if default_doctor else None)
    doctor = next((d for d in doctors if d.pk == doctor_id), None)
    treatments = list(Treatment.objects.filter(active=True).order_by("name"))
    default_treatment = moving.treatment_id if moving else (follow_up.treatment_id if follow_up else None)
    treatment_id = whole_number_param(source.get("treatment")) or default_treatment
    treatment = next((t for t in treatments if t.pk == treatment_id), None)
    if not sent:  # a page opened: the first of each to start with; a form sent books what it says
        doctor = doctor or (doctors[0] if doctors else None)
        treatment = treatment or (treatments[0] if treatments else None)
    if moving:  # a move keeps the visit's treatment
        treatment = moving.treatment
    fallback = follow_up.follow_up_on if follow_up and follow_up.follow_up_on > branch_today() else branch_today()
    return {
        "patient": patient,
        "moving": moving,
        "follow_up": follow_up,
        "doctors": doctors,
        "doctor": doctor,
        "treatments": treatments,
        "treatment": treatment,
        "day": _day(source.get("date"), fallback),
    }


def _slots(choices: dict[str, Any]) -> list[dt.datetime]:
    if choices["doctor"] is None or choices["treatment"] is None:
        return []
    zone = branch_zone()
    found = services.doctor_slots(doctor=choices["doctor"], day=choices["day"], treatment=choices["treatment"])
    return [slot.astimezone(zone) for slot in found]


def _patient_matches(request: HttpRequest, search: str) -> list[Patient]:
    if not search:
        return []
    return clinical_selectors.patient_search(
        user=request.user,  # type: ignore[arg-type]
        search=search,
        page_size=PATIENT_CHOICES,
    ).items


def _start_of(request: HttpRequest, day: dt.date) -> tuple[dt.datetime | None, services.Override | None]:
    """The chosen start: a free slot, or (staff, overriding) a time typed on the day."""
    reason = request.POST.get("override_reason", "").strip()[:300]
    overbook = request.POST.get("overbook") == "1"
    override = services.Override(reason=reason, overbook=overbook) if (reason or overbook) else None
    typed = request.POST.get("override_time", "").strip()
    if override is not None and typed:
        try:
            at = dt.time.fromisoformat(typed)
        except ValueError as exc:
            raise DomainError.invalid("override_time", _("Give the time as HH:MM.")) from exc
        return dt.datetime.combine(day, at).replace(tzinfo=branch_zone()), override
    try:
        slot = dt.datetime.fromisoformat(request.POST.get("slot", ""))
    except ValueError:
        return None, override
    return (slot if slot.tzinfo else None), override


@desk_required
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    choices = _booking_choices(request, source, sent=request.method == "POST")
    status, error, clash = 200, None, None
    if request.method == "POST":
        try:
            appointment = _book_chosen(request, choices)
        except DomainError as exc:
            if exc.kind == "forbidden":
                raise PermissionDenied(exc.message) from exc
            status = 409 if exc.kind == "conflict" else 422
            error = exc
            clash = exc.extra.get("taken_by")
        else:
            zone = branch_zone()
            when = appointment.start.astimezone(zone)
            done = _("%(name)s is moved to %(when)s.") if choices["moving"] else _("%(name)s is booked for %(when)s.")
            messages.success(
                request, done % {"name": appointment.patient.display_name, "when": when.strftime("%d %b %Y %H:%M")}
            )
            return redirect(schedule_url(appointment.doctor_id, when.date()))
    search = request.GET.get("search", "").replace("\x00", "").strip()[:100]
    context = {
        **choices,
        "slots": _slots(choices),
        "error": error,
        "clash": clash,
        "search": search,
        "matches": _patient_matches(request, search) if choices["patient"] is None else [],
        "typed": request.POST if request.method == "POST" else {},
        "time_zone": branch_zone().key,
    }
    return render(request, "scheduling/book.html", context, status=status)


def _book_chosen(request: HttpRequest, choices: dict[str, Any]) -> Appointment:
    actor: User = request.user  # type: ignore[assignment]
    address = client_address(request)
    if choices["patient"] is None:
        raise DomainError.invalid("patient", _("Choose the patient first."))
    if choices["doctor"] is None:
        raise DomainError.invalid("doctor", _("Choose an active doctor of this branch."))
    if choices["treatment"] is None:
        raise DomainError.invalid("treatment", _("Choose a treatment that is offered."))
    start, override = _start_of(request, choices["day"])
    if start is None:
        raise DomainError.invalid("slot", _("Choose one of the free times."))
    if choices["moving"] is not None:
        return services.appointment_reschedule(
            appointment=choices["moving"],
            start=start,
            doctor=choices["doctor"],
            moved_by=actor,
            override=override,
            address=address,
        )
    if choices["follow_up"] is not None:
        return services.follow_up_book(
            record=choices["follow_up"],
            doctor=choices["doctor"],
            treatment=choices["treatment"],
            start=start,
            booked_by=actor,
            override=override,
            address=address,
        )
    return services.appointment_book(
        patient=choices["patient"],
        doctor=choices["doctor"],
        treatment=choices["treatment"],
        start=start,
        booked_by=actor,
        override=override,
        address=address,
    )


# --- the doctor's day and the printed list ----------------------------------------------------


@doctor_required
@require_http_methods(["GET"])
def my_day(request: HttpRequest) -> HttpResponse:
    today = branch_today()
    day = _day(request.GET.get("date"), today)
    context = {
        "day": day,
        "today": today,
        "visits": selectors.day_list(doctor=request.user, day=day),  # type: ignore[arg-type]
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
    }
    return render(request, "scheduling/my_day.html", context)


@staff_required
@require_http_methods(["GET"])
def day_print(request: HttpRequest) -> HttpResponse:
    doctors = _doctors()
    doctor = _doctor_for(request, doctors)
    if doctor is None:
        raise Http404(_("No doctors yet."))
    day = _day(request.GET.get("date"), branch_today())
    visits = selectors.day_list(doctor=doctor, day=day)
    context = {"doctor": doctor, "day": day, "visits": visits, "now": timezone.now()}
    return render(request, "scheduling/day_print.html", context)


# --- home -----------------------------------------------------------------------------------------


def _chart(counts: list[tuple[dt.date, int]], today: dt.date) -> dict[str, Any]:
    """Bars for a server-drawn SVG: one per day, the tallest filling the height."""
    width, height, gap = 18, 120, 4
    peak = max((n for _d, n in counts), default=0) or 1
    bars = []
    for index, (day, n) in enumerate(counts):
        tall = round(height * n / peak)
        bars.append(
            {
                "day": day,
                "count": n,
                "x": index * (width + gap),
                "y": height - tall,
                "height": tall,
                "today": day == today,
                "past": day < today,
            }
        )
    return {"bars": bars, "width": len(bars) * (width + gap), "height": height, "bar_width": width, "peak": peak}


@staff_required
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    today = branch_today()
    todays_list = list(
        selectors.appointments_for(
            user=user, starts_from=branch_day_start(today), starts_before=branch_day_start(today + dt.timedelta(days=1))
        ).exclude(status=Appointment.Status.CANCELLED)
    )
    counts = selectors.appointments_per_day(
        user=user, first_day=today - dt.timedelta(days=CHART_DAYS), last_day=today + dt.timedelta(days=CHART_DAYS)
    )
    context = {
        "today": today,
        "todays": todays_list,
        "now": timezone.now(),
        "here": request.get_full_path(),
        "waiting": sum(1 for a in todays_list if a.status == Appointment.Status.CHECKED_IN),
        "chart": _chart(counts, today),
        "is_doctor": user.role == Role.DOCTOR,
        "may_book": user.role in services.STAFF_ROLES,
        "follow_ups_due": clinical_selectors.follow_ups_to_book().filter(follow_up_on__lte=today).count()
        if user.role in services.STAFF_ROLES
        else 0,
    }
    return render(request, "home.html", context)


urlpatterns = [
    path("schedule/", schedule, name="schedule"),
    path("schedule/print/", day_print, name="day_print"),
    path("appointments/book/", book, name="book"),
    path("appointments/<uuid:appointment_id>/<str:action>/", appointment_action, name="appointment_action"),
    path("my-day/", my_day, name="my_day"),
]
