"""The hospital admin's clinical pages: who attends a patient, the break-glass accesses to
review, the audit trail (and its CSV export), the treatments catalogue."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.addresses import client_address
from accounts.models import Role
from accounts.permissions import admin_required
from clinical import selectors, services
from clinical.forms.admin import AssignmentForm, AuditFilterForm, BreakGlassReviewForm, TreatmentForm
from clinical.models import AuditEvent, BreakGlassAccess, Treatment
from clinical.permissions import ASSIGN_ROLES
from clinical.views.common import form_errors, page_access
from core.branch import branch_current
from core.errors import DomainError

AUDIT_PAGE_SIZE = 50
BREAK_GLASS_LIST_LIMIT = 200

# --- assignments --------------------------------------------------------------------------------------


@login_required  # the role is checked by page_access, which records a refusal in the audit trail
@require_http_methods(["GET", "POST"])
def patient_doctors(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = page_access(request, patient_id, AuditEvent.Action.ASSIGN, roles=ASSIGN_ROLES, audit_read=False).patient
    if request.method == "POST":
        form = AssignmentForm(request.POST)
        if not form.is_valid():
            messages.error(request, next(iter(form.errors.values()))[0])
            return redirect("clinical:patient_doctors", patient_id=patient.pk)
        doctor = form.cleaned_data["doctor"]
        names = {"doctor": doctor, "patient": patient.display_name}
        try:
            if form.cleaned_data["op"] == "assign":
                changed = services.patient_assign_doctor(
                    patient=patient,
                    doctor=doctor,
                    actor=request.user,
                    address=client_address(request),
                    reason="assigned by an admin",
                )
                done = _("%(doctor)s is assigned to %(patient)s.") if changed else _("%(doctor)s was assigned already.")
            else:
                changed = services.patient_unassign_doctor(
                    patient=patient, doctor=doctor, actor=request.user, address=client_address(request)
                )
                done = (
                    _("%(doctor)s is no longer assigned to %(patient)s.")
                    if changed
                    else _("%(doctor)s was not assigned.")
                )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            (messages.success if changed else messages.info)(request, done % names)
        return redirect("clinical:patient_doctors", patient_id=patient.pk)
    return render(
        request,
        "clinical/admin/patient_doctors.html",
        {
            "patient": patient,
            "assigned": selectors.patient_doctors(patient),
            "assignable": selectors.doctors_assignable(patient),
        },
    )


# --- break-glass review ---------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def break_glass_review(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = BreakGlassReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("No such break-glass access."))
            return redirect("clinical:break_glass_review")
        access = get_object_or_404(
            BreakGlassAccess.objects.select_related("doctor", "patient"), pk=form.cleaned_data["access"]
        )
        try:
            services.break_glass_review(
                access=access, reviewer=request.user, note=form.cleaned_data["note"], address=client_address(request)
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("The access of %(doctor)s to %(patient)s is marked reviewed.")
                % {"doctor": access.doctor, "patient": access.patient.display_name},
            )
        return redirect("clinical:break_glass_review")
    return render(
        request,
        "clinical/admin/break_glass_review.html",
        {
            "to_review": list(selectors.break_glass_to_review()[:BREAK_GLASS_LIST_LIMIT]),
            "reviewed": selectors.break_glass_reviewed_recent(20),
            "now": timezone.now(),
        },
    )


# --- the audit trail ------------------------------------------------------------------------------------

_ROLE_LABELS = dict(Role.choices)


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    role: str
    mrn: str
    detail: str


def _detail_compact(detail: dict[str, Any]) -> str:
    def plain(value: Any) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    return "; ".join(f"{key}: {plain(value)}" for key, value in sorted(detail.items()) if value not in ("", None, []))


def _audit_filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent] | None]:
    """The filter form and the events it selects; no events when a filter is wrong (showing
    everything under a filter the admin believes applied would mislead)."""
    form = AuditFilterForm(request.GET or None)
    if not form.is_bound:
        return form, selectors.audit_events()
    if not form.is_valid():
        return form, None
    return form, selectors.audit_events(**form.selector_arguments())


@admin_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    form, events = _audit_filtered(request)
    page = Paginator(events if events is not None else [], AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    on_page = list(page.object_list)
    mrns = selectors.patient_mrns({e.patient_id for e in on_page if e.patient_id})
    rows = [
        AuditRow(
            event=e,
            role=str(_ROLE_LABELS.get(e.actor_role, e.actor_role)),
            mrn=mrns.get(e.patient_id, "") if e.patient_id else "",
            detail=_detail_compact(e.detail),
        )
        for e in on_page
    ]
    return render(
        request,
        "clinical/admin/audit.html",
        {"form": form, "page": page, "rows": rows},
        status=422 if form.errors else 200,
    )


CSV_HEADER = [
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "patient_id",
    "action",
    "outcome",
    "break_glass",
    "address",
    "detail",
    "hash",
    "previous_hash",
]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """A file for csv.writer that hands each line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for e in events.iterator(chunk_size=2000):
        row = [
            e.id,
            e.at.astimezone(UTC).isoformat(),
            e.actor_id,
            e.actor_name,
            e.actor_role,
            e.patient_id,
            e.action,
            e.outcome,
            e.break_glass,
            e.address,
            json.dumps(e.detail, sort_keys=True, ensure_ascii=False),
            e.hash,
            e.previous_hash,
        ]
        yield writer.writerow([_csv_cell(value) for value in row])


@admin_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    form, events = _audit_filtered(request)
    if events is None:
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    filename = f"audit-{branch_current().slug}-{timezone.localdate().isoformat()}.csv"
    response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- the treatments catalogue -----------------------------------------------------------------------------


def _treatment_submit(form: TreatmentForm, treatment: Treatment | None) -> tuple[Treatment | None, int]:
    """Save through the service; the status to answer when it refuses."""
    if not form.is_valid():
        return None, 422
    try:
        return services.treatment_save(data=form.service_data(), treatment=treatment), 200
    except DomainError as exc:
        form_errors(form, exc)
        return None, 409 if exc.kind == "conflict" else 422


@admin_required
@require_http_methods(["GET", "POST"])
def treatments(request: HttpRequest) -> HttpResponse:
    form = TreatmentForm(request.POST or None, initial={"duration_minutes": 15, "active": True})
    status = 200
    if request.method == "POST":
        saved, status = _treatment_submit(form, None)
        if saved is not None:
            messages.success(request, _("%(name)s is added to the catalogue.") % {"name": saved.name})
            return redirect("clinical:treatments")
    return render(
        request,
        "clinical/admin/treatments.html",
        {"treatments": selectors.treatments_catalogue(), "form": form},
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def treatment_edit(request: HttpRequest, treatment_id: int) -> HttpResponse:
    treatment = get_object_or_404(selectors.treatments_catalogue(), pk=treatment_id)
    # The service sets the new values on the object before it saves; keep the title as stored.
    title = str(treatment)
    initial = {
        "name": treatment.name,
        "code": treatment.code,
        "duration_minutes": treatment.duration_minutes,
        "active": treatment.active,
    }
    form = TreatmentForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        saved, status = _treatment_submit(form, treatment)
        if saved is not None:
            messages.success(request, _("%(name)s is saved.") % {"name": saved.name})
            return redirect("clinical:treatments")
    return render(
        request,
        "clinical/admin/treatment_edit.html",
        {"treatment_id": treatment_id, "title": title, "form": form},
        status=status,
    )


urlpatterns = [
    path("patients/<uuid:patient_id>/doctors/", patient_doctors, name="patient_doctors"),
    path("break-glass/", break_glass_review, name="break_glass_review"),
    path("audit/", audit, name="audit"),
    path("audit/export.csv", audit_export, name="audit_export"),
    path("treatments/", treatments, name="treatments"),
    path("treatments/<int:treatment_id>/edit/", treatment_edit, name="treatment_edit"),
]
