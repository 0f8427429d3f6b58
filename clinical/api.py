"""The clinical routes of the branch API: HTTP in, services and selectors, HTTP out."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from clinical import selectors, services
from clinical.models import AuditEvent, BreakGlassAccess, Patient, Prescription, Treatment, TreatmentRecord
from clinical.permissions import (
    ASSIGN_ROLES,
    CLINICAL_ROLES,
    RECORD_ROLES,
    REGISTER_ROLES,
    VIEW_ROLES,
    PatientAccess,
    patient_get_for_user,
    prescription_print_roles,
    role_check,
)
from clinical.schemas import (
    AssignIn,
    BreakGlassIn,
    BreakGlassOut,
    CorrectionIn,
    FollowUpList,
    PatientCreated,
    PatientIn,
    PatientList,
    PatientOut,
    PatientPatch,
    PdfPending,
    Profile,
    RecordIn,
    RecordOut,
    ReviewIn,
    Timeline,
    TreatmentIn,
    TreatmentOut,
    TreatmentPatch,
)
from clinical.validation import age_display, age_parts
from core.api import ERRORS, ErrorOut
from core.branch import branch_today
from core.errors import DomainError

# --- shapes -------------------------------------------------------------------------------------------


def _brief(patient: Patient, today: dt.date) -> dict:
    return {
        "id": patient.pk,
        "mrn": patient.mrn,
        "full_name": patient.display_name,
        "unidentified": patient.unidentified,
        "date_of_birth": patient.date_of_birth,
        "date_of_birth_estimated": patient.date_of_birth_estimated,
        "age": age_parts(patient.date_of_birth, today)[0],
        "age_display": age_display(patient.date_of_birth, today),
        "gender": patient.gender,
        "phone": patient.phone,
    }


def patient_shape(patient: Patient, today: dt.date, *, clinical: bool) -> dict:
    """A patient's details; the medical history only for ``clinical`` roles."""
    return {
        **_brief(patient, today),
        "description": patient.description,
        "email": patient.email,
        "address": patient.address,
        "contact": {"name": patient.contact_name, "relation": patient.contact_relation, "phone": patient.contact_phone},
        "reminders": {
            "channel": patient.contact_channel,
            "language": patient.preferred_language,
            "opt_out": patient.reminders_opt_out,
        },
        "identifiers": [{"type": i.kind, "value": i.value} for i in patient.identifiers.all()],
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction, "severity": a.severity} for a in patient.allergies.all()
        ],
        # Conditions and medication are clinical: not for the front desk (minimum necessary).
        "medical_history": (
            {
                "chronic_conditions": patient.chronic_conditions,
                "current_medication": patient.current_medication,
                "notes": patient.history_notes,
            }
            if clinical
            else None
        ),
        "registered_at": patient.registered_at,
    }


def page_answer(page: selectors.Page, shape: Callable[[Any], dict]) -> dict:
    """A page as every list route answers it: the items in their shape, and the counts."""
    return {
        "items": [shape(item) for item in page.items],
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
    }


def person_shape(user: User) -> dict:
    return {"id": user.pk, "full_name": user.full_name or user.username}


def prescription_brief(prescription: Prescription | None) -> dict | None:
    """A record's prescription: its lines and whether its PDF is made."""
    if prescription is None:
        return None
    return {"id": prescription.pk, "lines": list(prescription.lines.all()), "pdf_status": prescription.pdf_status}


def record_shape(record: TreatmentRecord, *, clinical: bool) -> dict:
    """A record as a role may see it: receptionists get the treatment's name and date only."""
    shape: dict = {
        "id": record.pk,
        "lineage": record.lineage,
        "version": record.version,
        "is_current": record.is_current,
        "visit_at": record.visit_at,
        "recorded_at": record.recorded_at,
        "doctor": person_shape(record.doctor),
        "treatment": (
            {"id": record.treatment.pk, "name": record.treatment.name, "code": record.treatment.code}
            if record.treatment
            else None
        ),
        "appointment_id": record.appointment_id,
        # The follow-up is for the front desk to book: its date and note are not clinical.
        "follow_up_on": record.follow_up_on,
        "follow_up_note": record.follow_up_note,
    }
    if clinical:
        prescription = getattr(record, "prescription", None)
        shape.update(
            diagnosis=record.diagnosis,
            icd10_code=record.icd10_code,
            clinical_notes=record.clinical_notes,
            patient_advice=record.patient_advice,
            correction_reason=record.correction_reason,
            prescription=prescription_brief(prescription),
        )
    return shape


def _clinical(request) -> bool:
    return request.user.role in CLINICAL_ROLES


def _address(request) -> str | None:
    return client_address(request)


def _access(request, patient_id, action: str, roles=VIEW_ROLES, audit_read: bool = True) -> PatientAccess:
    return patient_get_for_user(
        user=request.user,
        patient_id=patient_id,
        action=action,
        roles=roles,
        address=_address(request),
        audit_read=audit_read,
    )


# --- patients -------------------------------------------------------------------------------------------

patients = Router(tags=["patients"], auth=BranchTokenAuth())


@patients.post(
    "/", response={201: PatientCreated, **ERRORS}, operation_id="patients_register", summary="Register a patient"
)
def patient_register(request, payload: PatientIn):
    role_check(user=request.user, roles=REGISTER_ROLES, action=AuditEvent.Action.REGISTER, address=_address(request))
    data = payload.model_dump(exclude_unset=True, exclude={"confirm_new"})
    registered = services.patient_register(
        actor=request.user, data=data, confirm_new=payload.confirm_new, address=_address(request)
    )
    today = branch_today()
    return Status(
        201,
        {
            **patient_shape(registered.patient, today, clinical=_clinical(request)),
            "shared_phone": [_brief(p, today) for p in registered.shared_phone],
        },
    )


class PatientFilters(Schema):
    search: str = Field("", max_length=100)
    doctor: int | None = None
    treatment: int | None = None
    date_from: dt.date | None = Field(None, description="Visited on or after this day.")
    date_to: dt.date | None = None
    ordering: str = Field("name", description=", ".join(selectors.PATIENT_ORDERINGS))
    page: int = 1
    page_size: int = 20


@patients.get("/", response={200: PatientList, **ERRORS}, operation_id="patients_list", summary="Search patients")
def patient_list(request, filters: Query[PatientFilters]):
    role_check(user=request.user, roles=VIEW_ROLES, action="search", address=_address(request))
    if "\x00" in filters.search:
        raise DomainError.invalid("search", "Contains a character that is not allowed.")
    page = selectors.patient_search(
        user=request.user,
        search=filters.search,
        doctor_id=filters.doctor,
        treatment_id=filters.treatment,
        date_from=filters.date_from,
        date_to=filters.date_to,
        ordering=filters.ordering,
        page=filters.page,
        page_size=filters.page_size,
    )
    today = branch_today()
    return page_answer(page, lambda patient: _brief(patient, today))


@patients.get(
    "/{uuid:patient_id}/", response={200: Profile, **ERRORS}, operation_id="patients_profile", summary="A profile"
)
def patient_profile(request, patient_id: uuid.UUID):
    access = _access(request, patient_id, AuditEvent.Action.VIEW_PROFILE)
    patient = access.patient
    today = branch_today()
    return {
        **patient_shape(patient, today, clinical=access.clinical),
        "access": access.via,
        "assigned_doctors": [person_shape(d) for d in selectors.patient_doctors(patient)],
        "recent_appointments": [
            {
                "id": a.pk,
                "start": a.start,
                "end": a.end,
                "status": a.status,
                "doctor": person_shape(a.doctor),
                "treatment": a.treatment.name,
            }
            for a in selectors.patient_recent_appointments(patient)
        ],
        "recent_treatments": [
            record_shape(r, clinical=access.clinical) for r in selectors.patient_recent_records(patient)
        ],
    }


@patients.patch(
    "/{uuid:patient_id}/",
    response={200: PatientOut, **ERRORS},
    operation_id="patients_update",
    summary="Change a patient's details",
)
def patient_update(request, patient_id: uuid.UUID, payload: PatientPatch):
    access = _access(request, patient_id, AuditEvent.Action.UPDATE, audit_read=False)
    data = payload.model_dump(exclude_unset=True, exclude={"confirm_new"})
    patient = services.patient_update(
        actor=request.user,
        patient=access.patient,
        data=data,
        confirm_new=payload.confirm_new,
        address=_address(request),
    )
    return patient_shape(patient, branch_today(), clinical=access.clinical)


class TimelineQuery(Schema):
    page: int = 1
    page_size: int = 20


@patients.get(
    "/{uuid:patient_id}/timeline/",
    response={200: Timeline, **ERRORS},
    operation_id="patients_timeline",
    summary="Visits, diagnoses and prescriptions, newest first",
)
def patient_timeline(request, patient_id: uuid.UUID, query: Query[TimelineQuery]):
    access = _access(request, patient_id, AuditEvent.Action.VIEW_TIMELINE)
    page = selectors.patient_timeline(access.patient, page=query.page, page_size=query.page_size)
    return page_answer(
        page,
        lambda entry: {
            **record_shape(entry.record, clinical=access.clinical),
            "earlier_versions": [record_shape(r, clinical=access.clinical) for r in entry.earlier],
        },
    )


def _doctor(doctor_id: int) -> User:
    doctor = selectors.doctor_active(doctor_id)
    if doctor is None:
        raise DomainError.invalid("doctor_id", "Not an active doctor of this branch.")
    return doctor


@patients.post(
    "/{uuid:patient_id}/doctors/",
    response={200: Profile, 201: Profile, **ERRORS},
    operation_id="patients_assign_doctor",
    summary="Assign a doctor to the patient",
)
def patient_assign(request, patient_id: uuid.UUID, payload: AssignIn):
    access = _access(request, patient_id, AuditEvent.Action.ASSIGN, roles=ASSIGN_ROLES, audit_read=False)
    changed = services.patient_assign_doctor(
        patient=access.patient,
        doctor=_doctor(payload.doctor_id),
        actor=request.user,
        address=_address(request),
        reason="assigned by an admin",
    )
    return Status(201 if changed else 200, patient_profile(request, patient_id))


@patients.delete(
    "/{uuid:patient_id}/doctors/{int:doctor_id}/",
    response={204: None, **ERRORS},
    operation_id="patients_unassign_doctor",
    summary="Unassign a doctor",
)
def patient_unassign(request, patient_id: uuid.UUID, doctor_id: int):
    access = _access(request, patient_id, AuditEvent.Action.UNASSIGN, roles=ASSIGN_ROLES, audit_read=False)
    doctor = get_object_or_404(User, pk=doctor_id, role=Role.DOCTOR)
    services.patient_unassign_doctor(
        patient=access.patient, doctor=doctor, actor=request.user, address=_address(request)
    )
    return Status(204, None)


def _break_glass_shape(access: BreakGlassAccess) -> dict:
    return {
        "id": access.pk,
        "patient_id": access.patient_id,
        "doctor": person_shape(access.doctor),
        "reason": access.reason,
        "opened_at": access.opened_at,
        "expires_at": access.expires_at,
        "reviewed_at": access.reviewed_at,
        "review_note": access.review_note,
    }


@patients.post(
    "/{uuid:patient_id}/break-glass/",
    response={201: BreakGlassOut, **ERRORS},
    operation_id="patients_break_glass",
    summary="Emergency access to an unassigned patient",
)
def patient_break_glass(request, patient_id: uuid.UUID, payload: BreakGlassIn):
    role_check(
        user=request.user,
        roles=RECORD_ROLES,
        action=AuditEvent.Action.BREAK_GLASS,
        address=_address(request),
        patient_id=patient_id,
    )
    patient = selectors.patient_get(patient_id)
    if patient is None:
        raise DomainError.not_found("No such patient.")
    access = services.break_glass_open(
        doctor=request.user, patient=patient, reason=payload.reason, address=_address(request)
    )
    return Status(201, _break_glass_shape(access))


# --- follow-ups to book ------------------------------------------------------------------------------

follow_ups = Router(tags=["follow-ups"], auth=BranchTokenAuth())
DESK_ROLES = REGISTER_ROLES


class FollowUpQuery(Schema):
    page: int = 1
    page_size: int = 50


@follow_ups.get(
    "/",
    response={200: FollowUpList, **ERRORS},
    operation_id="follow_ups_to_book",
    summary="Follow-up visits doctors asked for, not booked yet, soonest first",
)
def follow_up_list(request, query: Query[FollowUpQuery]):
    role_check(user=request.user, roles=DESK_ROLES, action="follow_ups")
    due = selectors.paginate(selectors.follow_ups_to_book(), page=query.page, page_size=query.page_size)
    return page_answer(
        due,
        lambda record: {
            "record_id": record.pk,
            "patient": {
                "id": record.patient.pk,
                "mrn": record.patient.mrn,
                "full_name": record.patient.display_name,
                "phone": record.patient.phone,
            },
            "doctor": person_shape(record.doctor),
            "due_on": record.follow_up_on,
            "note": record.follow_up_note,
            "visit_at": record.visit_at,
        },
    )


@follow_ups.post(
    "/{uuid:record_id}/done/",
    response={204: None, **ERRORS},
    operation_id="follow_ups_done",
    summary="Take a follow-up off the list (booked, or settled otherwise)",
)
def follow_up_settle(request, record_id: uuid.UUID):
    role_check(user=request.user, roles=DESK_ROLES, action="follow_ups")
    record = selectors.follow_ups_to_book().filter(pk=record_id).first()
    if record is None:
        raise DomainError.not_found("No such follow-up to book.")
    services.follow_up_done(record=record, actor=request.user, address=_address(request))
    return Status(204, None)


# --- break-glass review -------------------------------------------------------------------------------

break_glass = Router(tags=["break-glass"], auth=BranchTokenAuth())


@break_glass.get(
    "/",
    response={200: list[BreakGlassOut], **ERRORS},
    operation_id="break_glass_to_review",
    summary="Emergency accesses not reviewed yet",
)
def break_glass_list(request):
    role_check(user=request.user, roles=ASSIGN_ROLES, action=AuditEvent.Action.BREAK_GLASS_REVIEW)
    return [_break_glass_shape(a) for a in selectors.break_glass_to_review()[:200]]


@break_glass.post(
    "/{int:access_id}/review/",
    response={200: BreakGlassOut, **ERRORS},
    operation_id="break_glass_review",
    summary="Mark an emergency access as reviewed",
)
def break_glass_reviewed(request, access_id: int, payload: ReviewIn):
    role_check(user=request.user, roles=ASSIGN_ROLES, action=AuditEvent.Action.BREAK_GLASS_REVIEW)
    access = get_object_or_404(BreakGlassAccess, pk=access_id)
    reviewed = services.break_glass_review(
        access=access, reviewer=request.user, note=payload.note, address=_address(request)
    )
    return _break_glass_shape(reviewed)


# --- treatments catalogue and records ---------------------------------------------------------------------

treatments = Router(tags=["treatments"], auth=BranchTokenAuth())


@treatments.get(
    "/", response={200: list[TreatmentOut], **ERRORS}, operation_id="treatments_list", summary="The branch's treatments"
)
def treatment_list(request):
    return list(selectors.treatments_for(request.user))


@treatments.post(
    "/",
    response={201: TreatmentOut, **ERRORS},
    operation_id="treatments_create",
    summary="Add a treatment to the catalogue",
)
def treatment_create(request, payload: TreatmentIn):
    role_check(user=request.user, roles=ASSIGN_ROLES, action="treatment_catalogue")
    return Status(201, services.treatment_save(data=payload.model_dump()))


@treatments.patch(
    "/{int:treatment_id}/",
    response={200: TreatmentOut, **ERRORS},
    operation_id="treatments_update",
    summary="Change a treatment of the catalogue",
)
def treatment_update(request, treatment_id: int, payload: TreatmentPatch):
    role_check(user=request.user, roles=ASSIGN_ROLES, action="treatment_catalogue")
    treatment = get_object_or_404(Treatment, pk=treatment_id)
    return services.treatment_save(data=payload.model_dump(exclude_unset=True), treatment=treatment)


@treatments.post(
    "/record/",
    response={201: RecordOut, **ERRORS},
    operation_id="treatments_record",
    summary="Record a treatment (doctors, for their patients)",
)
def treatment_record(request, payload: RecordIn):
    role_check(user=request.user, roles=RECORD_ROLES, action=AuditEvent.Action.RECORD, address=_address(request))
    access = _access(request, payload.patient_id, AuditEvent.Action.RECORD, roles=RECORD_ROLES, audit_read=False)
    record = services.treatment_record_create(
        doctor=request.user,
        patient=access.patient,
        data=payload.model_dump(exclude={"patient_id"}),
        address=_address(request),
    )
    return Status(201, record_shape(record, clinical=True))


@treatments.post(
    "/record/{uuid:record_id}/correct/",
    response={201: RecordOut, **ERRORS},
    operation_id="treatments_correct",
    summary="Correct a record (a new version; the old one stays)",
)
def treatment_correct(request, record_id: uuid.UUID, payload: CorrectionIn):
    role_check(user=request.user, roles=RECORD_ROLES, action=AuditEvent.Action.CORRECT, address=_address(request))
    record = selectors.record_get(record_id)
    if record is None:
        raise DomainError.not_found("No such record.")
    _access(request, record.patient_id, AuditEvent.Action.CORRECT, roles=RECORD_ROLES, audit_read=False)
    corrected = services.treatment_record_correct(
        doctor=request.user,
        record=record,
        data=payload.model_dump(exclude={"correction_reason"}),
        reason=payload.correction_reason,
        address=_address(request),
    )
    return Status(201, record_shape(corrected, clinical=True))


prescriptions = Router(tags=["prescriptions"], auth=BranchTokenAuth())
# How long a client waits before asking again for a PDF being rendered.
PDF_RETRY_AFTER = 2


def prescription_file_answer(prescription: Prescription, *, inline: bool = False) -> HttpResponse:
    """The PDF once it is ready; 202 with Retry-After while it renders; 503 if rendering failed
    (the workers retry it; staff see why on the record)."""
    if prescription.pdf_status == Prescription.PdfStatus.READY and prescription.pdf_file:
        record = prescription.record
        name = f"prescription-{record.patient.mrn}-{record.visit_at:%Y%m%d}-v{record.version}.pdf"
        return FileResponse(
            prescription.pdf_file.open("rb"), content_type="application/pdf", filename=name, as_attachment=not inline
        )
    if prescription.pdf_status == Prescription.PdfStatus.FAILED:
        failed = JsonResponse(
            {"detail": _("The PDF could not be made; it is being tried again."), "code": "render_failed"}, status=503
        )
        failed["Retry-After"] = str(PDF_RETRY_AFTER * 15)
        return failed
    pending = JsonResponse({"status": "pending"}, status=202)
    pending["Retry-After"] = str(PDF_RETRY_AFTER)
    return pending


@prescriptions.get(
    "/{uuid:prescription_id}/pdf/",
    response={200: bytes, 202: PdfPending, **ERRORS, 503: ErrorOut},
    operation_id="prescriptions_pdf",
    summary="A prescription's PDF (202 with Retry-After while it is being made)",
    openapi_extra={"responses": {200: {"description": "The PDF", "content": {"application/pdf": {}}}}},
)
def prescription_pdf(request, prescription_id: uuid.UUID):
    address = _address(request)
    roles = prescription_print_roles()
    role_check(user=request.user, roles=roles, action=AuditEvent.Action.VIEW_PRESCRIPTION, address=address)
    prescription = selectors.prescription_get(prescription_id)
    if prescription is None:
        raise DomainError.not_found("No such prescription.")
    patient_get_for_user(
        user=request.user,
        patient_id=prescription.record.patient_id,
        action=AuditEvent.Action.VIEW_PRESCRIPTION,
        roles=roles,
        address=address,
    )
    return prescription_file_answer(prescription)
