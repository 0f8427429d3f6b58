"""The scheduling routes of the branch API: doctors, free slots, appointments."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Query, Router, Schema
from pydantic import Field

from accounts.addresses import client_address
from accounts.permissions import BranchTokenAuth
from clinical import selectors as clinical_selectors
from clinical.api import page_answer, person_shape
from clinical.models import AuditEvent
from clinical.permissions import VIEW_ROLES, role_check
from core.api import ERRORS
from core.branch import branch_day_start, branch_zone
from core.errors import DomainError
from scheduling import selectors, services
from scheduling.idempotency import idempotent
from scheduling.models import Appointment
from scheduling.schemas import (
    AppointmentIn,
    AppointmentList,
    AppointmentOut,
    CancelIn,
    DoctorOut,
    RescheduleIn,
    SlotsOut,
)

BOOKING_ROLES = services.STAFF_ROLES  # patients book through the portal, doctors never
# Declared for clients generated from the OpenAPI document; read by scheduling.idempotency.
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Makes a retry safe: the same key and body answer the first booking again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _appointment_shape(appointment: Appointment) -> dict:
    zone = branch_zone()
    return {
        "id": appointment.pk,
        "patient": {
            "id": appointment.patient.pk,
            "mrn": appointment.patient.mrn,
            "full_name": appointment.patient.display_name,
        },
        "doctor": person_shape(appointment.doctor),
        "treatment": {
            "id": appointment.treatment.pk,
            "name": appointment.treatment.name,
            "code": appointment.treatment.code,
        },
        "start": appointment.start.astimezone(zone),
        "end": appointment.end.astimezone(zone),
        "status": appointment.status,
        "checked_in_at": appointment.checked_in_at,
        "completed_at": appointment.completed_at,
        "cancel_reason": appointment.cancel_reason,
        "overbooked": appointment.overbooked,
        "override_reason": appointment.override_reason,
    }


doctors = Router(tags=["doctors"], auth=BranchTokenAuth())


class DoctorFilters(Schema):
    specialty: str = Field("", max_length=100)
    department: str = Field("", max_length=100)


@doctors.get(
    "/", response={200: list[DoctorOut], **ERRORS}, operation_id="doctors_list", summary="The branch's doctors"
)
def doctor_list(request, filters: Query[DoctorFilters]):
    result = []
    for doctor in selectors.doctors_list(specialty=filters.specialty, department=filters.department):
        profile = getattr(doctor, "doctor_profile", None)
        result.append(
            {
                "id": doctor.pk,
                "full_name": doctor.full_name or doctor.username,
                "specialty": profile.specialty if profile else "",
                "department": profile.department if profile else "",
                "qualifications": profile.qualifications if profile else "",
                "room": profile.room if profile else "",
            }
        )
    return result


class SlotQuery(Schema):
    date: dt.date
    treatment: int


@doctors.get(
    "/{int:doctor_id}/slots/",
    response={200: SlotsOut, **ERRORS},
    operation_id="doctors_slots",
    summary="A doctor's free start times on a day",
)
def doctor_slots(request, doctor_id: int, query: Query[SlotQuery]):
    doctor = clinical_selectors.doctor_active(doctor_id)
    if doctor is None:
        raise DomainError.not_found("No such doctor.")
    treatment = clinical_selectors.treatments_for(request.user).filter(pk=query.treatment, active=True).first()
    if treatment is None:
        raise DomainError.invalid("treatment", "No such active treatment.")
    zone = branch_zone()
    slots = services.doctor_slots(doctor=doctor, day=query.date, treatment=treatment)
    return {
        "doctor_id": doctor.pk,
        "date": query.date,
        "treatment_id": treatment.pk,
        "time_zone": str(zone.key),
        "slots": [slot.astimezone(zone) for slot in slots],
    }


appointments = Router(tags=["appointments"], auth=BranchTokenAuth())


def _override(payload: AppointmentIn | RescheduleIn) -> services.Override | None:
    if payload.override_reason or payload.overbook:
        return services.Override(reason=payload.override_reason, overbook=payload.overbook)
    return None


def _appointment_or_404(request, appointment_id: uuid.UUID) -> Appointment:
    """An appointment the user may act on: a doctor's own, any for the desk and admins."""
    appointment = selectors.appointments_for(user=request.user).filter(pk=appointment_id).first()
    if appointment is None:
        raise DomainError.not_found("No such appointment.")
    return appointment


@appointments.post(
    "/",
    response={201: AppointmentOut, **ERRORS},
    operation_id="appointments_book",
    summary="Book an appointment",
    openapi_extra={"parameters": [IDEMPOTENCY_HEADER]},
)
def appointment_book(request, payload: AppointmentIn):
    """Send an `Idempotency-Key` header to make a retry safe: the same key and body answer the
    first booking again; the same key with another body is 422; a key still being processed, 409."""
    address = client_address(request)
    role_check(user=request.user, roles=BOOKING_ROLES, action=AuditEvent.Action.BOOK, address=address)
    return idempotent(request, payload, lambda: _book(request, payload, address), status=201, schema=AppointmentOut)


def _book(request, payload: AppointmentIn, address: str | None) -> dict:
    patient = clinical_selectors.patient_get(payload.patient_id)
    if patient is None:
        raise DomainError.not_found("No such patient.")
    doctor = clinical_selectors.doctor_active(payload.doctor_id)
    if doctor is None:
        raise DomainError.not_found("No such doctor.")
    treatment = clinical_selectors.treatments_for(request.user).filter(pk=payload.treatment_id).first()
    if treatment is None:
        raise DomainError.invalid("treatment_id", "No such treatment.")
    appointment = services.appointment_book(
        patient=patient,
        doctor=doctor,
        treatment=treatment,
        start=payload.start,
        booked_by=request.user,
        override=_override(payload),
        address=address,
    )
    return _appointment_shape(appointment)


class AppointmentFilters(Schema):
    doctor: int | None = None
    patient: uuid.UUID | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    status: Appointment.Status | None = None
    page: int = 1
    page_size: int = 50


@appointments.get(
    "/",
    response={200: AppointmentList, **ERRORS},
    operation_id="appointments_list",
    summary="Appointments (a doctor sees their own)",
)
def appointment_list(request, filters: Query[AppointmentFilters]):
    role_check(user=request.user, roles=VIEW_ROLES, action="appointments")
    listed = selectors.appointments_for(
        user=request.user,
        doctor_id=filters.doctor,
        patient_id=filters.patient,
        starts_from=branch_day_start(filters.date_from) if filters.date_from else None,
        starts_before=branch_day_start(filters.date_to + dt.timedelta(days=1))
        if filters.date_to and filters.date_to < dt.date.max
        else None,
        status=filters.status or "",
    )
    return page_answer(
        clinical_selectors.paginate(listed, page=filters.page, page_size=filters.page_size), _appointment_shape
    )


@appointments.post(
    "/{uuid:appointment_id}/cancel/",
    response={200: AppointmentOut, **ERRORS},
    operation_id="appointments_cancel",
    summary="Cancel an appointment; its slot is free again",
)
def appointment_cancel(request, appointment_id: uuid.UUID, payload: CancelIn):
    address = client_address(request)
    role_check(user=request.user, roles=BOOKING_ROLES, action=AuditEvent.Action.CANCEL, address=address)
    appointment = _appointment_or_404(request, appointment_id)
    cancelled = services.appointment_cancel(
        appointment=appointment, cancelled_by=request.user, reason=payload.reason, address=address
    )
    return _appointment_shape(cancelled)


@appointments.get(
    "/{uuid:appointment_id}/",
    response={200: AppointmentOut, **ERRORS},
    operation_id="appointments_get",
    summary="One appointment",
)
def appointment_detail(request, appointment_id: uuid.UUID):
    role_check(user=request.user, roles=VIEW_ROLES, action="appointments")
    return _appointment_shape(_appointment_or_404(request, appointment_id))


@appointments.post(
    "/{uuid:appointment_id}/reschedule/",
    response={200: AppointmentOut, **ERRORS},
    operation_id="appointments_reschedule",
    summary="Move an appointment in one step; if the new time is taken it stays where it was",
)
def appointment_reschedule(request, appointment_id: uuid.UUID, payload: RescheduleIn):
    address = client_address(request)
    role_check(user=request.user, roles=BOOKING_ROLES, action=AuditEvent.Action.RESCHEDULE, address=address)
    appointment = _appointment_or_404(request, appointment_id)
    doctor = None
    if payload.doctor_id is not None:
        doctor = clinical_selectors.doctor_active(payload.doctor_id)
        if doctor is None:
            raise DomainError.not_found("No such doctor.")
    moved = services.appointment_reschedule(
        appointment=appointment,
        start=payload.start,
        doctor=doctor,
        moved_by=request.user,
        override=_override(payload),
        address=address,
    )
    return _appointment_shape(selectors.appointment_get(moved.pk))


def _life_route(path: str, operation: str, summary: str, roles: frozenset, action: str, change):
    @appointments.post(
        f"/{{uuid:appointment_id}}/{path}/",
        response={200: AppointmentOut, **ERRORS},
        operation_id=f"appointments_{operation}",
        summary=summary,
    )
    def route(request, appointment_id: uuid.UUID):
        address = client_address(request)
        role_check(user=request.user, roles=roles, action=action, address=address)
        appointment = _appointment_or_404(request, appointment_id)
        changed = change(appointment=appointment, actor=request.user, address=address)
        return _appointment_shape(selectors.appointment_get(changed.pk))

    route.__name__ = f"appointment_{operation}"
    return route


_life_route(
    "check-in",
    "check_in",
    "The patient has arrived (on the day of the visit)",
    BOOKING_ROLES,
    AuditEvent.Action.CHECK_IN,
    services.appointment_check_in,
)
_life_route(
    "complete",
    "complete",
    "The doctor has seen the patient",
    services.COMPLETE_ROLES,
    AuditEvent.Action.COMPLETE,
    services.appointment_complete,
)
_life_route(
    "no-show",
    "no_show",
    "The patient did not come",
    BOOKING_ROLES,
    AuditEvent.Action.NO_SHOW,
    services.appointment_no_show,
)
