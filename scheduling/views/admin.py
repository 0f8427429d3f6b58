"""The hospital admin's scheduling pages: each doctor's profile, weekly hours and leave, and
settling the visits a leave catches (move or cancel, all in one step, each patient told)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import admin_required
from core.branch import branch_current, branch_zone
from core.errors import DomainError
from scheduling import selectors, services
from scheduling.models import Appointment, DoctorProfile, Leave, WorkingHours
from tenants import services as tenants_services
from tenants.models import Hospital

WEEKDAYS = WorkingHours.Weekday.choices
# "09:00-13:00, 14:00-17:30": a day's intervals as the admin types them.
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")
SUGGESTED_SLOTS = 6


def _doctor_or_404(doctor_id: int) -> User:
    return get_object_or_404(User, pk=doctor_id, role=Role.DOCTOR)


def _weeks_text(doctors: list[User]) -> dict[int, dict[int, str]]:
    """Each doctor's week as typed on the form ("09:00-13:00, 14:00-17:00" a day), in one query."""
    text: dict[int, dict[int, list[str]]] = {d.pk: {day: [] for day, _label in WEEKDAYS} for d in doctors}
    for hours in WorkingHours.objects.filter(doctor__in=doctors).order_by("weekday", "starts"):
        text[hours.doctor_id][hours.weekday].append(f"{hours.starts:%H:%M}-{hours.ends:%H:%M}")
    return {pk: {day: ", ".join(parts) for day, parts in week.items()} for pk, week in text.items()}


def _week_text(doctor: User) -> dict[int, str]:
    return _weeks_text([doctor])[doctor.pk]


def _week_parse(post: Any) -> tuple[dict[int, list[tuple[dt.time, dt.time]]], list[tuple[str, str]]]:
    week: dict[int, list[tuple[dt.time, dt.time]]] = {}
    errors = []
    for day, _label in WEEKDAYS:
        typed = (post.get(f"day_{day}") or "").strip()
        week[day] = []
        # A Latin comma, or the Arabic one an Arabic keyboard types.
        for part in filter(None, (p.strip() for p in re.split("[,\u060c]", typed))):
            match = _INTERVAL.match(part)
            try:
                if match is None:
                    raise ValueError(part)
                h1, m1, h2, m2 = (int(g) for g in match.groups())
                week[day].append((dt.time(h1, m1), dt.time(h2, m2)))
            except ValueError:
                errors.append((f"day_{day}", _("Write each interval as 09:00-13:00, separated by commas.")))
                break
    return week, errors


def _local_input(value: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=branch_zone()) if moment.tzinfo is None else None


@admin_required
@require_http_methods(["GET"])
def doctors(request: HttpRequest) -> HttpResponse:
    listed = list(selectors.doctors_list())
    weeks = _weeks_text(listed)
    leave = dict(
        Leave.objects.filter(doctor__in=listed, ends_at__gt=timezone.now())
        .values_list("doctor")
        .annotate(n=Count("pk"))
        .values_list("doctor", "n")
    )
    rows = [{"doctor": d, "week": weeks[d.pk], "leave": leave.get(d.pk, 0)} for d in listed]
    short_days = [WEEKDAYS_ABBR[day] for day, _label in WEEKDAYS]
    return render(request, "scheduling/admin/doctors.html", {"rows": rows, "short_days": short_days})


@admin_required
@require_http_methods(["GET", "POST"])
def doctor_edit(request: HttpRequest, doctor_id: int) -> HttpResponse:
    doctor = _doctor_or_404(doctor_id)
    profile = DoctorProfile.objects.filter(user=doctor).first() or DoctorProfile(user=doctor)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        week, typed_errors = _week_parse(request.POST)
        try:
            if typed_errors:
                raise DomainError.invalid_fields(typed_errors)
            with transaction.atomic():  # the profile and the week, or neither
                services.doctor_profile_save(doctor=doctor, data=request.POST.dict())
                services.working_hours_set(doctor=doctor, week=week, set_by=request.user)  # type: ignore[arg-type]
        except DomainError as exc:
            errors = {field or "": message for field, message in exc.errors or [(exc.field, exc.message)]}
            status = 422
        else:
            messages.success(request, _("The profile and hours of %(doctor)s are saved.") % {"doctor": doctor})
            return redirect("scheduling:doctor_edit", doctor.pk)
    week_text = (
        {day: request.POST.get(f"day_{day}", "") for day, _label in WEEKDAYS}
        if request.method == "POST"
        else _week_text(doctor)
    )
    context = {
        "doctor": doctor,
        "profile": {
            name: request.POST.get(name, "") if request.method == "POST" else getattr(profile, name)
            for name in services.PROFILE_FIELDS
        },
        "week": [(day, label, week_text[day], errors.get(f"day_{day}")) for day, label in WEEKDAYS],
        "errors": errors,
        "leave": _leave_rows(doctor),
        "time_zone": branch_zone().key,
    }
    return render(request, "scheduling/admin/doctor_edit.html", context, status=status)


def _leave_rows(doctor: User) -> list[dict[str, Any]]:
    return [
        {"leave": leave, "caught": len(services.leave_appointments(leave))}
        for leave in selectors.leave_of(doctor, upcoming_from=timezone.now())
    ]


@admin_required
@require_POST
def leave_add(request: HttpRequest, doctor_id: int) -> HttpResponse:
    doctor = _doctor_or_404(doctor_id)
    starts_at = _local_input(request.POST.get("starts_at", ""))
    ends_at = _local_input(request.POST.get("ends_at", ""))
    if starts_at is None or ends_at is None:
        messages.error(request, _("Give the leave's start and end as a date and a time."))
        return redirect("scheduling:doctor_edit", doctor.pk)
    try:
        leave = services.leave_add(
            doctor=doctor,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=request.POST.get("reason", "")[:300],
            created_by=request.user,  # type: ignore[arg-type]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("scheduling:doctor_edit", doctor.pk)
    caught = services.leave_appointments(leave)
    if caught:
        messages.warning(
            request,
            _("%(n)d booked visits fall in this leave: move or cancel them below.") % {"n": len(caught)},
        )
        return redirect("scheduling:leave_settle", leave.pk)
    messages.success(request, _("The leave is saved; no visits were booked in it."))
    return redirect("scheduling:doctor_edit", doctor.pk)


@admin_required
@require_POST
def leave_remove(request: HttpRequest, leave_id: int) -> HttpResponse:
    leave = get_object_or_404(Leave, pk=leave_id)
    doctor_id = leave.doctor_id
    services.leave_remove(leave=leave)
    messages.success(request, _("The leave is removed; its times can be booked again."))
    return redirect("scheduling:doctor_edit", doctor_id)


@admin_required
@require_http_methods(["GET", "POST"])
def leave_settle(request: HttpRequest, leave_id: int) -> HttpResponse:
    leave = get_object_or_404(Leave.objects.select_related("doctor"), pk=leave_id)
    caught = services.leave_appointments(leave)
    status, error = 200, None
    if request.method == "POST":
        try:
            done = services.leave_settle(
                leave=leave,
                decisions=_decisions(request, caught),
                settled_by=request.user,  # type: ignore[arg-type]
                address=client_address(request),
            )
        except DomainError as exc:
            status, error = (409 if exc.kind == "conflict" else 422), exc.message
        else:
            messages.success(
                request, _("%(n)d visits are moved or cancelled; each patient is told by e-mail.") % {"n": len(done)}
            )
            return redirect("scheduling:doctor_edit", leave.doctor_id)
    context = {"leave": leave, "rows": _settle_rows(leave, caught, request.POST), "error": error}
    return render(request, "scheduling/admin/leave_settle.html", context, status=status)


def _settle_rows(leave: Leave, caught: list[Any], sent: Any) -> list[dict[str, Any]]:
    """Each caught visit with the times it may move to: the doctor's next free ones after the
    leave, each visit's first offer left out of the later visits' lists (two visits picking the
    first time offered would clash). A checked-in visit can only be cancelled."""
    zone = branch_zone()
    offered: set[dt.datetime] = set()
    rows = []
    for visit in caught:
        suggestions: list[dt.datetime] = []
        if visit.status == Appointment.Status.BOOKED:
            free = services.free_slots_after(
                doctor=leave.doctor,
                treatment=visit.treatment,
                after=leave.ends_at,
                count=SUGGESTED_SLOTS + len(offered),
            )
            suggestions = [slot.astimezone(zone) for slot in free if slot not in offered][:SUGGESTED_SLOTS]
            offered.update(suggestions[:1])
        rows.append({"visit": visit, "suggestions": suggestions, "chosen": sent.get(f"decision_{visit.pk}", "")})
    return rows


def _decisions(request: HttpRequest, caught: list[Any]) -> list[services.LeaveDecision]:
    """Each visit's choice on the form: "cancel", a new start, or nothing (left as it is)."""
    decisions = []
    for visit in caught:
        choice = request.POST.get(f"decision_{visit.pk}", "")
        if choice == "cancel":
            decisions.append(services.LeaveDecision(visit.pk, None))
        elif choice:
            try:
                start = dt.datetime.fromisoformat(choice)
            except ValueError:
                start = None
            if start is None or start.tzinfo is None:
                raise DomainError.invalid(f"decision_{visit.pk}", _("Choose a time from the list."))
            decisions.append(services.LeaveDecision(visit.pk, start))
    return decisions


_CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]", re.ASCII)


def _hours_parse(text: str) -> list[int] | None:
    """ "24, 2" (hours before the visit; "0.5" is half an hour) as minutes, or None if unreadable."""
    minutes = []
    for part in re.split(r"[,،;\s]+", text.strip()):
        if not part:
            continue
        try:
            hours = float(part.replace("h", ""))
        except ValueError:
            return None
        if not math.isfinite(hours) or abs(hours) > 100_000:  # "nan", "1e400": not a time
            return None
        minutes.append(round(hours * 60))
    return minutes


def _time_parse(text: str) -> dt.time | None:
    """ "21:00" (what a time input sends), or None: no seconds, no offset."""
    if not _CLOCK.fullmatch(text.strip()):
        return None
    return dt.time.fromisoformat(text.strip())


def _whole_hours_parse(text: str) -> int | None:
    """ "24" as 24, or None: ASCII digits only, so "٢٤", "1e3" and "-1" are refused as unreadable."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None


def _hours_text(minutes: list[int]) -> str:
    return ", ".join(f"{m / 60:g}" for m in minutes)


@admin_required
@require_http_methods(["GET", "POST"])
def branch_settings(request: HttpRequest) -> HttpResponse:
    """The branch's reminders, quiet hours, text-message ids and whether the desk prints
    prescriptions: decided by its admins, not the platform's operators."""
    branch = branch_current()
    errors: dict[str, str] = {}
    status = 200
    sent = request.POST
    if request.method == "POST":
        offsets = _hours_parse(sent.get("reminder_offsets", ""))
        quiet_start, quiet_end = (
            _time_parse(sent.get("quiet_hours_start", "")),
            _time_parse(sent.get("quiet_hours_end", "")),
        )
        cancel_hours = _whole_hours_parse(sent.get("portal_cancel_hours", ""))
        typed = [
            (field, message)
            for field, bad, message in [
                ("reminder_offsets", offsets is None, _("Write hours before the visit, e.g. 24, 2.")),
                ("quiet_hours_start", quiet_start is None, _("A time, e.g. 21:00.")),
                ("quiet_hours_end", quiet_end is None, _("A time, e.g. 08:00.")),
                ("portal_cancel_hours", cancel_hours is None, _("A whole number of hours, e.g. 24.")),
            ]
            if bad
        ]
        try:
            if typed:
                raise DomainError.invalid_fields(typed)
            tenants_services.branch_messaging_update(
                hospital=branch,
                messaging=tenants_services.BranchMessaging(
                    reminder_offsets_minutes=offsets or [],
                    quiet_hours_start=quiet_start,  # type: ignore[arg-type]
                    quiet_hours_end=quiet_end,  # type: ignore[arg-type]
                    sms_sender_id=sent.get("sms_sender_id", "").strip(),
                    sms_template_ids={
                        kind: sent.get(f"sms_template_{kind}", "").strip()
                        for kind in tenants_services.SMS_TEMPLATE_KINDS
                    },
                    desk_prints_prescriptions=sent.get("desk_prints_prescriptions") == "on",
                    portal_cancel_hours=cancel_hours,  # type: ignore[arg-type]
                    portal_names_staff=sent.get("portal_names_staff") == "on",
                ),
                changed_by=request.user,  # type: ignore[arg-type]
                request=request,
            )
        except DomainError as exc:
            errors = {field or "": message for field, message in exc.errors or [(exc.field, exc.message)]}
            status = 422
        else:
            messages.success(request, _("The branch's settings are saved."))
            return redirect("scheduling:branch_settings")
    if request.method == "POST":
        form = {
            name: sent.get(name, "")
            for name in (
                "reminder_offsets",
                "quiet_hours_start",
                "quiet_hours_end",
                "sms_sender_id",
                "portal_cancel_hours",
            )
        }
        for box in ("desk_prints_prescriptions", "portal_names_staff"):
            form[box] = sent.get(box) == "on"
        templates = {kind: sent.get(f"sms_template_{kind}", "") for kind in tenants_services.SMS_TEMPLATE_KINDS}
    else:
        form = {
            "reminder_offsets": _hours_text(branch.reminder_offsets_minutes),
            "quiet_hours_start": branch.quiet_hours_start.strftime("%H:%M"),
            "quiet_hours_end": branch.quiet_hours_end.strftime("%H:%M"),
            "sms_sender_id": branch.sms_sender_id,
            "desk_prints_prescriptions": branch.desk_prints_prescriptions,
            "portal_cancel_hours": str(branch.portal_cancel_hours),
            "portal_names_staff": branch.portal_names_staff,
        }
        templates = {
            kind: (branch.sms_template_ids or {}).get(kind, "") for kind in tenants_services.SMS_TEMPLATE_KINDS
        }
    context = {
        "form": form,
        "templates": [(kind, templates[kind], errors.get(f"sms_template_{kind}")) for kind in templates],
        "errors": errors,
        "time_zone": branch_zone().key,
    }
    return render(request, "scheduling/admin/branch_settings.html", context, status=status)


def _number(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None


@admin_required
@require_http_methods(["GET", "POST"])
def queue_settings(request: HttpRequest) -> HttpResponse:
    """How the branch numbers queue tokens and orders its queue: decided by its admins."""
    branch = branch_current()
    errors: dict[str, str] = {}
    status = 200
    sent = request.POST
    kinds = tenants_services.QUEUE_KINDS
    if request.method == "POST":
        numbers = {
            name: _number(sent.get(name, ""))
            for name in [f"token_start_{kind}" for kind in kinds] + ["queue_late_minutes", "queue_wait_alert_minutes"]
        }
        try:
            typed = [(name, _("A whole number.")) for name, value in numbers.items() if value is None]
            if typed:
                raise DomainError.invalid_fields(typed)
            tenants_services.branch_queue_update(
                hospital=branch,
                rules=tenants_services.BranchQueue(
                    tokens={
                        kind: (sent.get(f"token_prefix_{kind}", "").strip(), numbers[f"token_start_{kind}"] or 0)
                        for kind in kinds
                    },
                    order=sent.get("queue_order", ""),
                    late_rule=sent.get("queue_late_rule", ""),
                    late_minutes=numbers["queue_late_minutes"] or 0,
                    wait_alert_minutes=numbers["queue_wait_alert_minutes"] or 0,
                ),
                changed_by=request.user,  # type: ignore[arg-type]
                request=request,
            )
        except DomainError as exc:
            errors = {field or "": message for field, message in exc.errors or [(exc.field, exc.message)]}
            status = 422
        else:
            messages.success(request, _("The queue's rules are saved."))
            return redirect("scheduling:queue_settings")
    if request.method == "POST":
        form = {name: sent.get(name, "") for name in sent if name != "csrfmiddlewaretoken"}
    else:
        form = {
            "queue_order": branch.queue_order,
            "queue_late_rule": branch.queue_late_rule,
            "queue_late_minutes": str(branch.queue_late_minutes),
            "queue_wait_alert_minutes": str(branch.queue_wait_alert_minutes),
        }
        for kind in kinds:
            rule = (branch.queue_tokens or {}).get(kind, {})
            form[f"token_prefix_{kind}"] = str(rule.get("prefix", ""))
            form[f"token_start_{kind}"] = str(rule.get("start", 1))
    labels = {"booked": _("Booked, on time"), "walk_in": _("Walk-in"), "late": _("Booked, late")}
    context = {
        "form": form,
        "errors": errors,
        "kinds": [
            (
                kind,
                labels[kind],
                form.get(f"token_prefix_{kind}", ""),
                form.get(f"token_start_{kind}", ""),
                errors.get(f"token_prefix_{kind}", ""),
                errors.get(f"token_start_{kind}", ""),
            )
            for kind in kinds
        ],
        "orders": Hospital._meta.get_field("queue_order").choices,
        "late_rules": Hospital._meta.get_field("queue_late_rule").choices,
    }
    return render(request, "scheduling/admin/queue_settings.html", context, status=status)


urlpatterns = [
    path("doctors/", doctors, name="doctors"),
    path("doctors/<int:doctor_id>/", doctor_edit, name="doctor_edit"),
    path("doctors/<int:doctor_id>/leave/", leave_add, name="leave_add"),
    path("leave/<int:leave_id>/", leave_settle, name="leave_settle"),
    path("leave/<int:leave_id>/remove/", leave_remove, name="leave_remove"),
    path("settings/", branch_settings, name="branch_settings"),
    path("settings/queue/", queue_settings, name="queue_settings"),
]
