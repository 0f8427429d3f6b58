"""The doctor's pages: the record screen (with drafts kept as the doctor types), corrections,
and break-glass access to a patient the doctor is not assigned to."""

from __future__ import annotations

import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.addresses import client_address
from accounts.models import Role
from clinical import selectors, services
from clinical.audit import audit_record
from clinical.forms.doctor import (
    BreakGlassForm,
    CorrectionForm,
    PrescriptionLineForm,
    RecordForm,
    draft_data,
    draft_initial,
    lines_of,
    prescription_lines,
    record_errors,
    record_initial,
)
from clinical.models import AuditEvent, Patient, RecordDraft, TreatmentRecord
from clinical.permissions import RECORD_ROLES, PatientAccess, deny, role_check
from clinical.views.common import form_errors, page_access
from core.branch import branch_current
from core.errors import DomainError

TIMELINE_CARDS = 5
ALLERGY_CONFLICT = "allergy_conflict"


class NotAssigned(PermissionDenied):
    """A doctor refused a patient they are not assigned to: the answer offers break-glass."""

    def __init__(self, message: str, patient_id: uuid.UUID) -> None:
        super().__init__(message)
        self.patient_id = patient_id


def _offers_break_glass(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotAssigned as exc:
            return render(
                request,
                "clinical/doctor/not_assigned.html",
                {"message": str(exc), "patient_id": exc.patient_id},
                status=403,
            )

    return wrapper


def _access(request, patient_id: uuid.UUID, action: str, *, audit_read: bool = True) -> PatientAccess:
    """``page_access`` for the doctor's pages: other roles get the plain 403; a doctor can only
    be refused for not being assigned, and is offered break-glass."""
    try:
        return page_access(request, patient_id, action, roles=RECORD_ROLES, audit_read=audit_read)
    except PermissionDenied as exc:
        if request.user.role == Role.DOCTOR:
            raise NotAssigned(str(exc), patient_id) from exc
        raise


def _draft(request, patient: Patient, lineage: uuid.UUID | None) -> RecordDraft | None:
    return selectors.record_draft_get(doctor=request.user, patient=patient, lineage=lineage)


def _profile_url(patient_id: uuid.UUID) -> str:
    # The treatments tab: where the record just saved shows.
    return reverse("clinical:patient_profile", args=[patient_id]) + "?tab=treatments"


def _form_page(request, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    patient = context["patient"]
    if request.method == "POST":
        # A refused form is shown again with the patient's history beside it: a read, recorded
        # like the one of the GET that first showed it.
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW_PROFILE,
            patient_id=patient.pk,
            break_glass=context["access"].break_glass,
            address=client_address(request),
        )
    context = {
        "empty_line": PrescriptionLineForm(),
        "now": timezone.now(),
        **context,
    }
    context.setdefault("timeline", selectors.patient_timeline(patient, page_size=TIMELINE_CARDS).items)
    return render(request, template, context, status=status)


# --- the record screen ---------------------------------------------------------------------------------


@login_required
@_offers_break_glass
def record_new(request, patient_id: uuid.UUID):
    if request.method == "POST":
        access = _access(request, patient_id, AuditEvent.Action.RECORD, audit_read=False)
        form = RecordForm(request.POST)
        lines = prescription_lines(request.POST)
        allergy_clash = False
        if form.is_valid() and all(line.is_valid() for line in lines):
            try:
                services.treatment_record_create(
                    doctor=request.user,
                    patient=access.patient,
                    data=form.record_data(lines),
                    address=client_address(request),
                )
            except DomainError as exc:
                if exc.kind == "forbidden":
                    raise PermissionDenied(exc.message) from exc
                record_errors(form, lines, exc)
                allergy_clash = exc.code == ALLERGY_CONFLICT
            else:
                messages.success(request, _("The record is saved."))
                return redirect(_profile_url(access.patient.pk))
        draft = None
        status = 409 if allergy_clash else 422
    else:
        access = _access(request, patient_id, AuditEvent.Action.VIEW_PROFILE)
        draft = _draft(request, access.patient, None)
        initial, lines = draft_initial(draft.data) if draft else ({}, [])
        form = RecordForm(initial=initial)
        status = 200
    last = selectors.doctor_last_record(access.patient)
    return _form_page(
        request,
        "clinical/doctor/record.html",
        {
            "patient": access.patient,
            "access": access,
            "form": form,
            "lines": lines,
            "draft": draft,
            "last": last,
            "last_lines": lines_of(last),
            "allergy_clash": status == 409,
        },
        status=status,
    )


@login_required
@_offers_break_glass
def record_correct(request, record_id: uuid.UUID):
    record = selectors.record_get(record_id)
    if record is None:
        raise Http404(_("No such record."))
    posted = request.method == "POST"
    action = AuditEvent.Action.CORRECT if posted else AuditEvent.Action.VIEW_PROFILE
    access = _access(request, record.patient_id, action, audit_read=not posted)
    if record.doctor_id != request.user.pk:
        # The service refuses it too; refusing here spares the doctor a form they cannot send.
        refused = deny(
            user=request.user,
            action=action,
            patient_id=record.patient_id,
            address=client_address(request),
            message=_("Only the doctor who wrote a record corrects it."),
        )
        raise PermissionDenied(refused.message)
    if not record.is_current:
        return _to_newest(request, record, _("This record has been corrected since; here is the newest version."))
    draft = None
    allergy_clash = False
    if posted:
        form = CorrectionForm(request.POST)
        lines = prescription_lines(request.POST)
        allergy_clash = False
        if form.is_valid() and all(line.is_valid() for line in lines):
            try:
                corrected = services.treatment_record_correct(
                    doctor=request.user,
                    record=record,
                    data=form.record_data(lines),
                    reason=form.cleaned_data["correction_reason"],
                    address=client_address(request),
                )
            except DomainError as exc:
                if exc.kind == "forbidden":
                    raise PermissionDenied(exc.message) from exc
                if exc.code == "stale_version":
                    return _to_newest(request, record, exc.message)
                record_errors(form, lines, exc)
                allergy_clash = exc.code == ALLERGY_CONFLICT
            else:
                messages.success(request, _("The record is corrected (version %(v)d).") % {"v": corrected.version})
                return redirect(_profile_url(record.patient_id))
    else:
        draft = _draft(request, access.patient, record.lineage)
        initial, lines = draft_initial(draft.data) if draft else record_initial(record)
        form = CorrectionForm(initial=initial)
    return _form_page(
        request,
        "clinical/doctor/correct.html",
        {
            "patient": access.patient,
            "access": access,
            "record": record,
            "form": form,
            "lines": lines,
            "draft": draft,
            "allergy_clash": posted and allergy_clash,
        },
        status=(409 if allergy_clash else 422) if posted else 200,
    )


def _to_newest(request, record: TreatmentRecord, message: str) -> HttpResponse:
    newest = selectors.record_current(record.lineage)
    messages.warning(request, message)
    if newest is None:
        return redirect(_profile_url(record.patient_id))
    return redirect("clinical:record_correct", record_id=newest.pk)


# --- drafts -------------------------------------------------------------------------------------------


@login_required
@require_POST
def record_draft(request, patient_id: uuid.UUID):
    """Keeps the form as typed (htmx, as the doctor types), or discards it (discard=1)."""
    access = _access(request, patient_id, AuditEvent.Action.RECORD, audit_read=False)
    try:
        lineage = uuid.UUID(request.POST["lineage"]) if request.POST.get("lineage") else None
    except ValueError:
        return HttpResponse(_("Not a record."), status=400)
    if request.POST.get("discard"):
        services.record_draft_discard(doctor=request.user, patient=access.patient, lineage=lineage)
        messages.info(request, _("The draft is discarded."))
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("clinical:record_new", args=[access.patient.pk])
        return redirect(back)
    form_class = CorrectionForm if lineage else RecordForm
    try:
        kept = services.record_draft_save(
            doctor=request.user,
            patient=access.patient,
            data=draft_data(request.POST, form_class),
            lineage=lineage,
            opened_at=_opened_at(request.POST.get("opened_at", "")),
        )
    except DomainError as exc:
        return render(request, "clinical/doctor/_draft_status.html", {"error": exc.message}, status=422)
    return render(request, "clinical/doctor/_draft_status.html", {"saved_at": timezone.now() if kept else None})


def _opened_at(value: str):
    """When the form was opened (a hidden field): None when missing or not a time."""
    try:
        opened = parse_datetime(value)
    except ValueError:
        return None
    return opened if opened is not None and timezone.is_aware(opened) else None


# --- break-glass --------------------------------------------------------------------------------------


@login_required
def break_glass_open(request, patient_id: uuid.UUID):
    # Not ``page_access``: the doctor is by definition not assigned to this patient.
    try:
        role_check(
            user=request.user,
            roles=RECORD_ROLES,
            action=AuditEvent.Action.BREAK_GLASS,
            address=client_address(request),
            patient_id=patient_id,
        )
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    patient = selectors.patient_get(patient_id)
    if patient is None:
        raise Http404(_("No such patient."))
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            access = services.break_glass_open(
                doctor=request.user,
                patient=patient,
                reason=form.cleaned_data["reason"],
                address=client_address(request),
            )
        except DomainError as exc:
            if exc.kind == "forbidden":
                raise PermissionDenied(exc.message) from exc
            form_errors(form, exc)
        else:
            messages.warning(
                request,
                _("Break-glass access is open until %(time)s. It is recorded and reviewed by the hospital admin.")
                % {"time": date_format(timezone.localtime(access.expires_at), "H:i")},
            )
            return redirect("clinical:record_new", patient_id=patient.pk)
    return render(
        request,
        "clinical/doctor/break_glass.html",
        {"patient": patient, "form": form, "hours": branch_current().break_glass_hours},
        status=422 if form.errors else 200,
    )


urlpatterns = [
    path("patients/<uuid:patient_id>/record/", record_new, name="record_new"),
    path("patients/<uuid:patient_id>/record/draft/", record_draft, name="record_draft"),
    path("records/<uuid:record_id>/correct/", record_correct, name="record_correct"),
    path("patients/<uuid:patient_id>/break-glass/", break_glass_open, name="break_glass_open"),
]
