"""The front desk's pages: find a patient as you type, register one, open and change a profile,
and the follow-ups doctors advised that are still to be booked."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.addresses import client_address
from accounts.models import Role
from accounts.permissions import role_required, staff_required
from clinical import selectors, services
from clinical.audit import audit_record
from clinical.forms.frontdesk import IDENTIFIER_ROWS, PatientForm
from clinical.models import AuditEvent
from clinical.normalise import phone_for_search
from clinical.permissions import EDITABLE_FIELDS, REGISTER_ROLES, SAFETY_FIELDS
from clinical.views.common import form_errors, page_access
from core.branch import branch_current, branch_today
from core.errors import DomainError
from core.params import uuid_param, whole_number_param

desk_required = role_required(Role.HOSPITAL_ADMIN, Role.RECEPTIONIST)

SEARCH_MAX_LENGTH = 100
SEARCH_RESULTS = 20
TIMELINE_PAGE_SIZE = 10
APPOINTMENTS_PAGE_SIZE = 10
TAB_OF_PAGE = {"treatments": "page", "appointments": "appointments_page"}
FOLLOW_UPS_SHOWN = 200
PROFILE_TABS = ("details", "appointments", "treatments")
# The service's conflicts the desk settles on the form: open the existing patient, or confirm.
DUPLICATE_CODES = ("possible_duplicate", "identifier_taken")


# --- search ---------------------------------------------------------------------------------------


def _register_prefill(search: str) -> dict[str, str]:
    """What was typed, where it belongs on the registration form: a phone number (however it
    was typed) to the phone, a name to the name. An MRN or an id number goes nowhere."""
    if not search:
        return {}
    if phone_for_search(search, branch_current().country):
        return {"phone": search}
    if not any(ch.isdigit() for ch in search):
        return {"full_name": search}
    return {}


@staff_required
@require_http_methods(["GET"])
def patient_search(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("search", "").replace("\x00", "").strip()[:SEARCH_MAX_LENGTH]
    results = selectors.patient_search(
        user=request.user,  # type: ignore[arg-type]
        search=search,
        # With nothing typed: the newest registrations, the patient at the desk most likely.
        ordering="name" if search else "-registered",
        page_size=SEARCH_RESULTS,
    )
    # Enter in the search box: straight to the patient when only one matches.
    if search and request.GET.get("open") and results.count == 1:
        return redirect("clinical:patient_profile", results.items[0].pk)
    sharers = selectors.phone_sharers_count(user=request.user, patients=results.items)  # type: ignore[arg-type]
    prefill = _register_prefill(search)
    context = {
        "search": search,
        "results": results,
        "rows": [(patient, sharers.get(patient.phone, 0)) for patient in results.items],
        "may_register": request.user.role in REGISTER_ROLES,  # type: ignore[union-attr]
        "register_url": reverse("clinical:patient_register") + (f"?{urlencode(prefill)}" if prefill else ""),
        # A doctor searching for someone not assigned to them: found, to open by break-glass.
        "not_attended": (
            selectors.patients_not_attended(doctor=request.user, search=search)  # type: ignore[arg-type]
            if request.user.role == Role.DOCTOR  # type: ignore[union-attr]
            else []
        ),
    }
    partial = request.htmx and not request.htmx.history_restore_request  # type: ignore[attr-defined]
    template = "clinical/frontdesk/_results.html" if partial else "clinical/frontdesk/patient_search.html"
    return render(request, template, context)


# --- registration and changes -----------------------------------------------------------------------


def _refusal(form: PatientForm, exc: DomainError) -> tuple[int, dict[str, Any]]:
    """A service's refusal as the form page shows it: inline errors (422), or the possible
    duplicates to open instead (409)."""
    if exc.kind == "invalid":
        form_errors(form, form.service_errors(exc))
        return 422, {}
    if exc.kind == "conflict" and exc.code in DUPLICATE_CODES:
        return 409, {
            "duplicate": {
                "message": exc.message,
                "candidates": exc.extra.get("candidates", []),
                # A taken identifier cannot be registered twice, confirmed or not.
                "may_confirm": exc.code == "possible_duplicate",
            }
        }
    if exc.kind == "forbidden":
        raise PermissionDenied(exc.message)
    form.add_error(None, exc.message)
    return 409, {}


def _registered_message(registered: services.Registered) -> str:
    patient = registered.patient
    text = _("%(name)s is registered with MRN %(mrn)s.") % {"name": patient.display_name, "mrn": patient.mrn}
    if registered.shared_phone:
        others = ", ".join(f"{p.display_name} ({p.mrn})" for p in registered.shared_phone)
        text += " " + _("The same phone number is registered for: %(others)s.") % {"others": others}
    return text


@desk_required
@require_http_methods(["GET", "POST"])
def patient_register(request: HttpRequest) -> HttpResponse:
    status, extra = 200, {}
    if request.method == "POST":
        form = PatientForm(request.POST)
        if form.is_valid():
            try:
                registered = services.patient_register(
                    actor=request.user,  # type: ignore[arg-type]
                    data=form.service_data(),
                    confirm_new=request.POST.get("confirm_new") == "1",
                    address=client_address(request),
                )
            except DomainError as exc:
                status, extra = _refusal(form, exc)
            else:
                messages.success(request, _registered_message(registered))
                return redirect("clinical:patient_profile", registered.patient.pk)
        else:
            status = 422
    else:
        typed = {name: request.GET.get(name, "")[:SEARCH_MAX_LENGTH] for name in ("full_name", "phone")}
        prefill = {name: value for name, value in typed.items() if value}
        form = PatientForm(initial=prefill)
    return render(request, "clinical/frontdesk/patient_form.html", {"form": form, **extra}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    # Opening the form shows the record: a read, recorded as one; saving records the change.
    reading = request.method == "GET"
    action = AuditEvent.Action.VIEW_PROFILE if reading else AuditEvent.Action.UPDATE
    access = page_access(request, patient_id, action, audit_read=reading)
    patient = access.patient
    keys = EDITABLE_FIELDS.get(request.user.role, set())  # type: ignore[union-attr]
    if not keys:
        raise PermissionDenied(_("Your role cannot change a patient's details."))
    initial = PatientForm.initial_for(patient)
    rows = max(IDENTIFIER_ROWS, sum(1 for name in initial if name.startswith("identifier_type_")))
    form = PatientForm(
        request.POST if request.method == "POST" else None, initial=initial, keys=keys, identifier_rows=rows
    )
    status, extra = 200, {}
    if request.method == "POST":
        if form.is_valid():
            data = form.changed_service_data(initial)
            if not data:
                messages.info(request, _("Nothing was changed."))
                return redirect("clinical:patient_profile", patient.pk)
            try:
                services.patient_update(
                    actor=request.user,  # type: ignore[arg-type]
                    patient=patient,
                    data=data,
                    confirm_new=request.POST.get("confirm_new") == "1",
                    address=client_address(request),
                )
            except DomainError as exc:
                status, extra = _refusal(form, exc)
            else:
                messages.success(request, _("The changes to %(name)s are saved.") % {"name": patient.display_name})
                return redirect("clinical:patient_profile", patient.pk)
        else:
            status = 422
    if request.method == "POST":  # shown again with the patient's details: a read, recorded
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            action=AuditEvent.Action.VIEW_PROFILE,
            patient_id=patient.pk,
            break_glass=access.break_glass,
            address=client_address(request),
        )
    context = {"form": form, "patient": patient, "safety_only": keys <= SAFETY_FIELDS, **extra}
    return render(request, "clinical/frontdesk/patient_form.html", context, status=status)


# --- the profile ----------------------------------------------------------------------------------


def _page_number(value: str | None) -> int:
    return whole_number_param(value, below=10_000) or 1


@login_required
@require_http_methods(["GET"])
def patient_profile(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    # One audit row for the page, the timeline included; refusals are recorded too.
    access = page_access(request, patient_id, AuditEvent.Action.VIEW_PROFILE)
    patient = access.patient
    role = request.user.role  # type: ignore[union-attr]
    page = _page_number(request.GET.get("page"))
    timeline = selectors.patient_timeline(patient, page=page, page_size=TIMELINE_PAGE_SIZE)
    appointments = selectors.patient_appointments(
        patient, page=_page_number(request.GET.get("appointments_page")), page_size=APPOINTMENTS_PAGE_SIZE
    )
    tab = request.GET.get("tab")
    if tab not in PROFILE_TABS:  # a page link of one of the lists opens its tab
        tab = next((t for t, key in TAB_OF_PAGE.items() if key in request.GET), "details")
    editable = EDITABLE_FIELDS.get(role, set())
    context = {
        "access": access,
        "patient": patient,
        "doctors": selectors.patient_doctors(patient),
        "appointments": appointments,
        "appointment_pages": max(1, math.ceil(appointments.count / appointments.page_size)),
        "timeline": timeline,
        "pages": max(1, math.ceil(timeline.count / timeline.page_size)),
        "tab": tab,
        "may_edit": bool(editable),
        "edit_safety_only": bool(editable) and editable <= SAFETY_FIELDS,
        "is_doctor": role == Role.DOCTOR,
        "is_admin": role == Role.HOSPITAL_ADMIN,
        "may_book": role in REGISTER_ROLES,
    }
    return render(request, "clinical/frontdesk/patient_profile.html", context)


# --- follow-ups to book ---------------------------------------------------------------------------


@desk_required
@require_http_methods(["GET", "POST"])
def follow_ups(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        record_id = uuid_param(request.POST.get("record"))
        record = selectors.follow_ups_to_book().filter(pk=record_id).first() if record_id else None
        if record is None:
            messages.info(request, _("That follow-up is already off the list."))
        else:
            services.follow_up_done(record=record, actor=request.user, address=client_address(request))  # type: ignore[arg-type]
            messages.success(
                request, _("The follow-up of %(name)s is marked as done.") % {"name": record.patient.display_name}
            )
        return redirect("clinical:follow_ups")
    context = {
        "follow_ups": list(selectors.follow_ups_to_book()[:FOLLOW_UPS_SHOWN]),
        "today": branch_today(),
        "limit": FOLLOW_UPS_SHOWN,
    }
    return render(request, "clinical/frontdesk/follow_ups.html", context)


urlpatterns = [
    path("patients/", patient_search, name="patient_search"),
    path("patients/new/", patient_register, name="patient_register"),
    path("patients/<uuid:patient_id>/", patient_profile, name="patient_profile"),
    path("patients/<uuid:patient_id>/edit/", patient_edit, name="patient_edit"),
    path("follow-ups/", follow_ups, name="follow_ups"),
]
