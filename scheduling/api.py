"""The scheduling routes of the branch API: doctors, free slots, appointments."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from clinical import selectors as clinical_selectors
from clinical.api import page_answer, person_shape
from clinical.models import AuditEvent
from clinical.permissions import VIEW_ROLES, role_check
from core.api import ERRORS
from core.branch import branch_current, branch_day_start, branch_today, branch_zone
from core.errors import DomainError
from scheduling import queue, selectors, services
from scheduling.idempotency import idempotent
from scheduling.models import Appointment, QueueEntry
from scheduling.schemas import (
    AppointmentIn,
    AppointmentList,
    AppointmentOut,
    BoardOut,
    CalledOut,
    CancelIn,
    CheckInIn,
    DoctorOut,
    QueueEntryOut,
    QueueOut,
    RescheduleIn,
    SlotsOut,
    WalkInIn,
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


def queue_token(appointment: Appointment) -> str | None:
    try:
        return appointment.queue_entry.token
    except QueueEntry.DoesNotExist:
        return None


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
        "token": queue_token(appointment),
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
    "The patient has arrived (on the day of the visit): checked in, with a queue token",
    BOOKING_ROLES,
    AuditEvent.Action.CHECK_IN,
    lambda *, appointment, actor, address: (
        queue.queue_check_in(appointment=appointment, actor=actor, address=address).appointment
    ),
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


# --- the queue ---------------------------------------------------------------------------------

queue_router = Router(tags=["queue"], auth=BranchTokenAuth())
QUEUE_VIEW_ROLES = queue.STEER_ROLES


def entry_shape(entry: QueueEntry, *, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "id": entry.pk,
        "token": entry.token,
        "kind": entry.kind,
        "state": entry.state,
        "patient": {"id": entry.patient.pk, "mrn": entry.patient.mrn, "full_name": entry.patient.display_name},
        "doctor": person_shape(entry.doctor),
        "appointment_id": entry.appointment_id,
        "session_start": entry.session_start,
        "arrived_at": entry.arrived_at,
        "called_at": entry.called_at,
        "calls": entry.calls,
        "started_at": entry.started_at,
        "finished_at": entry.finished_at,
        "waited_minutes": selectors.queue_waited_minutes(entry, now=now),
        "long_wait": selectors.queue_long_wait(entry, now=now, alert_minutes=branch_current().queue_wait_alert_minutes),
    }


def _doctor_or_404(doctor_id: int) -> User:
    doctor = clinical_selectors.doctor_active(doctor_id)
    if doctor is None:
        raise DomainError.not_found("No such doctor.")
    return doctor


class QueueQuery(Schema):
    doctor: int
    date: dt.date | None = Field(None, description="The branch's today when left out.")


@queue_router.get(
    "/", response={200: QueueOut, **ERRORS}, operation_id="queue_get", summary="A doctor's queue of a day"
)
def queue_get(request, query: Query[QueueQuery]):
    role_check(user=request.user, roles=QUEUE_VIEW_ROLES, action="queue")
    doctor = _doctor_or_404(query.doctor)
    if request.user.role == Role.DOCTOR and doctor.pk != request.user.pk:
        raise DomainError.forbidden("A doctor sees their own queue.")
    now = timezone.now()
    view = selectors.queue_of(doctor=doctor, day=query.date or branch_today(), now=now)
    return {
        "doctor": person_shape(doctor),
        "date": query.date or branch_today(),
        "current": [entry_shape(e, now=now) for e in view.current],
        "waiting": [entry_shape(e, now=now) for e in view.waiting],
        "skipped": [entry_shape(e, now=now) for e in view.skipped],
        "finished": [entry_shape(e, now=now) for e in view.finished],
        "minutes_each": round(view.minutes_each, 1),
    }


@queue_router.post(
    "/check-ins/",
    response={201: QueueEntryOut, **ERRORS},
    operation_id="queue_check_in",
    summary="A booked patient has arrived: checked in with a token",
)
def queue_check_in_route(request, payload: CheckInIn):
    address = client_address(request)
    role_check(user=request.user, roles=BOOKING_ROLES, action=AuditEvent.Action.CHECK_IN, address=address)
    appointment = _appointment_or_404(request, payload.appointment_id)
    entry = queue.queue_check_in(appointment=appointment, actor=request.user, address=address)
    return Status(201, entry_shape(entry))


@queue_router.post(
    "/walk-ins/",
    response={201: QueueEntryOut, **ERRORS},
    operation_id="queue_walk_in",
    summary="A patient without a booking joins a doctor's queue now",
    openapi_extra={"parameters": [IDEMPOTENCY_HEADER]},
)
def queue_walk_in_route(request, payload: WalkInIn):
    """A patient already booked at this time is 409: check them in instead. Send an
    `Idempotency-Key` header to make a retry safe (one token, not two)."""
    address = client_address(request)
    role_check(user=request.user, roles=BOOKING_ROLES, action=AuditEvent.Action.BOOK, address=address)

    def add() -> dict:
        patient = clinical_selectors.patient_get(payload.patient_id)
        if patient is None:
            raise DomainError.not_found("No such patient.")
        doctor = clinical_selectors.doctor_active(payload.doctor_id)
        if doctor is None:
            raise DomainError.invalid("doctor_id", "Not an active doctor of this branch.")
        treatment = clinical_selectors.treatments_for(request.user).filter(pk=payload.treatment_id, active=True).first()
        if treatment is None:
            raise DomainError.invalid("treatment_id", "No such treatment.")
        entry = queue.queue_walk_in(
            patient=patient, doctor=doctor, treatment=treatment, actor=request.user, address=address
        )
        return entry_shape(entry)

    return idempotent(request, payload, add, status=201, schema=QueueEntryOut)


class CallNextQuery(Schema):
    expected: str | None = Field(None, max_length=400, description="Entry ids shown as current; empty: nobody.")


@queue_router.post(
    "/doctors/{int:doctor_id}/call-next/",
    response={200: CalledOut, **ERRORS},
    operation_id="queue_call_next",
    summary="Finish the patient with the doctor and call the next one, in the branch's order",
)
def queue_call_next_route(request, doctor_id: int, query: Query[CallNextQuery]):
    """Send `expected` (the ids of the entries you show as current, comma-separated; empty for
    nobody) to make the call safe from a second device or a retry: if the queue has moved since,
    nothing is done and the answer is 409 `queue_changed`."""
    role_check(user=request.user, roles=queue.CALL_ROLES, action="queue")
    expected = None
    if query.expected is not None:
        try:
            expected = {uuid.UUID(part) for part in query.expected.split(",") if part}
        except ValueError as exc:
            raise DomainError.invalid("query:expected", "Entry ids, comma-separated.") from exc
    called = queue.queue_call_next(
        doctor=_doctor_or_404(doctor_id), actor=request.user, expected=expected, address=client_address(request)
    )
    return {
        "called": entry_shape(called.entry) if called.entry else None,
        "finished": [entry_shape(e) for e in called.finished],
    }


def _entry_or_404(request, entry_id: uuid.UUID) -> QueueEntry:
    entry = selectors.queue_entry_for(user=request.user, entry_id=entry_id)
    if entry is None:
        raise DomainError.not_found("No such queue entry.")
    return entry


def _queue_step(path: str, operation: str, summary: str, change, *, audited: bool = False):
    """A route for one step of an entry; ``audited`` steps change the visit too (seen, gone) and
    pass the caller's address to its audit row."""

    @queue_router.post(
        f"/{{uuid:entry_id}}/{path}/",
        response={200: QueueEntryOut, **ERRORS},
        operation_id=f"queue_{operation}",
        summary=summary,
    )
    def route(request, entry_id: uuid.UUID):
        role_check(user=request.user, roles=queue.STEER_ROLES, action="queue")
        more = {"address": client_address(request)} if audited else {}
        changed = change(entry=_entry_or_404(request, entry_id), actor=request.user, **more)
        return entry_shape(changed)

    route.__name__ = f"queue_{operation}_route"
    return route


_queue_step("skip", "skip", "Called but not at the door: set aside until recalled", queue.queue_skip)
_queue_step("recall", "recall", "Call a skipped (or called) patient again", queue.queue_recall)
_queue_step("start", "start", "The called patient is with the doctor", queue.queue_start)
_queue_step("done", "done", "The doctor has seen the patient", queue.queue_done, audited=True)
_queue_step("left", "left", "The patient left without being seen; their place is freed", queue.queue_left, audited=True)


@queue_router.get(
    "/board/",
    response={200: BoardOut, **ERRORS},
    operation_id="queue_board",
    summary="The waiting-room board: tokens called and next, per doctor (never a name)",
)
def queue_board_route(request):
    role_check(user=request.user, roles=QUEUE_VIEW_ROLES, action="queue")
    return {"date": branch_today(), "doctors": selectors.queue_board(day=branch_today())}
