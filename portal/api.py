"""The portal routes of the branch API, for patient accounts only (the Dart app)."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from clinical import selectors as clinical_selectors
from clinical.api import page_answer, patient_shape, person_shape, prescription_brief, prescription_file_answer
from clinical.models import Patient, Prescription, TreatmentRecord
from clinical.schemas import PdfPending
from core.api import ERRORS, ErrorOut
from core.branch import branch_today, branch_zone
from core.errors import DomainError
from portal import services
from portal.schemas import (
    PortalAccessLog,
    PortalAppointmentList,
    PortalAppointmentOut,
    PortalAppointmentQuery,
    PortalBookIn,
    PortalCancelIn,
    PortalMeOut,
    PortalPatientOut,
    PortalPatientPage,
    PortalPatientPatch,
    PortalPrescriptionList,
    PortalQueueOut,
    PortalTimeline,
)
from portal.selectors import (
    account_links,
    cancellable_until,
    linked_patient,
    portal_access_log,
    portal_appointment,
    portal_appointments,
    portal_prescription,
    portal_prescriptions,
    portal_timeline,
)
from scheduling.api import IDEMPOTENCY_HEADER
from scheduling.idempotency import idempotent
from scheduling.models import Appointment
from scheduling.reminders import appointment_ics
from scheduling.selectors import queue_places

portal = Router(tags=["portal"], auth=BranchTokenAuth())
# What the portal's changes may answer besides their success: the account's hourly brake too.
CHANGE_ERRORS = {**ERRORS, 429: ErrorOut}


def _patient_account(request) -> User:
    """The signed-in patient account; staff are refused here as patients are on staff routes."""
    if request.user.role != Role.PATIENT:
        raise DomainError.forbidden(_("The portal is for patient accounts."))
    return request.user


@portal.get(
    "/me/",
    response={200: PortalMeOut, 401: ErrorOut, 403: ErrorOut},
    operation_id="portal_me",
    summary="The patient account and the records it acts for",
)
def portal_me(request):
    account = _patient_account(request)
    return {
        "username": account.username,
        "full_name": account.full_name,
        "preferred_language": account.preferred_language,
        "patients": [
            {
                "id": link.patient.pk,
                "mrn": link.patient.mrn,
                "full_name": link.patient.display_name,
                "date_of_birth": link.patient.date_of_birth,
                "relationship": link.relationship,
            }
            for link in account_links(account)
        ],
    }


def _linked(account: User, patient_id) -> Patient:
    """The record named in the request, if the account acts for it: any other id is 404, the
    same answer whether it exists (here or in another branch) or not."""
    patient = linked_patient(account, patient_id)
    if patient is None:
        raise DomainError.not_found(_("No such patient."))
    return patient


def _appointment_shape(visit: Appointment, zone) -> dict:
    cut_off = cancellable_until(visit)
    return {
        "id": visit.pk,
        "start": visit.start.astimezone(zone),
        "end": visit.end.astimezone(zone),
        "time_zone": str(zone.key),
        "doctor": person_shape(visit.doctor),
        "treatment": {"id": visit.treatment_id, "name": visit.treatment.name},
        "status": visit.status,
        "cancellable_until": cut_off.astimezone(zone) if cut_off else None,
    }


@portal.get(
    "/appointments/",
    response={200: PortalAppointmentList, **ERRORS},
    operation_id="portal_appointments_list",
    summary="A linked patient's visits, upcoming or past",
)
def portal_appointment_list(request, query: Query[PortalAppointmentQuery]):
    patient = _linked(_patient_account(request), query.patient)
    page = portal_appointments(patient, upcoming=query.upcoming, page=query.page, page_size=query.page_size)
    zone = branch_zone()
    return page_answer(page, lambda visit: _appointment_shape(visit, zone))


def _prescription_shape(prescription: Prescription, zone) -> dict:
    """As the patient reads it: the lines and the advice, never the diagnosis or the notes."""
    record = prescription.record
    return {
        "id": prescription.pk,
        "issued": record.visit_at.astimezone(zone),
        "doctor": person_shape(record.doctor),
        "lines": list(prescription.lines.all()),
        "advice": record.patient_advice,
        "pdf_status": prescription.pdf_status,
    }


@portal.get(
    "/prescriptions/",
    response={200: PortalPrescriptionList, **ERRORS},
    operation_id="portal_prescriptions_list",
    summary="A linked patient's prescriptions, latest first",
)
def portal_prescription_list(request, query: Query[PortalPatientPage]):
    patient = _linked(_patient_account(request), query.patient)
    page = portal_prescriptions(patient, page=query.page, page_size=query.page_size)
    zone = branch_zone()
    return page_answer(page, lambda prescription: _prescription_shape(prescription, zone))


@portal.get(
    "/prescriptions/{uuid:prescription_id}/pdf/",
    response={200: bytes, 202: PdfPending, **ERRORS, 503: ErrorOut},
    operation_id="portal_prescriptions_pdf",
    summary="A linked patient's prescription as a PDF (202 with Retry-After while it is being made)",
    openapi_extra={"responses": {200: {"description": "The PDF", "content": {"application/pdf": {}}}}},
)
def portal_prescription_pdf(request, prescription_id: uuid.UUID):
    prescription = portal_prescription(_patient_account(request), prescription_id)
    if prescription is None:
        raise DomainError.not_found(_("No such prescription."))
    return prescription_file_answer(prescription)


@portal.get(
    "/appointments/{uuid:appointment_id}/ics/",
    response={200: bytes, **ERRORS},
    operation_id="portal_appointments_ics",
    summary="A linked patient's visit as a calendar file",
    openapi_extra={"responses": {200: {"description": "An iCalendar event", "content": {"text/calendar": {}}}}},
)
def portal_appointment_ics(request, appointment_id: uuid.UUID):
    visit = portal_appointment(_patient_account(request), appointment_id)
    if visit is None:
        raise DomainError.not_found(_("No such appointment."))
    answer = HttpResponse(appointment_ics(visit), content_type="text/calendar; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="appointment-{visit.start:%Y%m%d-%H%M}.ics"'
    return answer


def _visit(account: User, appointment_id: uuid.UUID) -> Appointment:
    visit = portal_appointment(account, appointment_id)
    if visit is None:
        raise DomainError.not_found(_("No such appointment."))
    return visit


@portal.get(
    "/appointments/{uuid:appointment_id}/",
    response={200: PortalAppointmentOut, **ERRORS},
    operation_id="portal_appointments_get",
    summary="One visit of a linked patient",
)
def portal_appointment_detail(request, appointment_id: uuid.UUID):
    return _appointment_shape(_visit(_patient_account(request), appointment_id), branch_zone())


@portal.post(
    "/appointments/",
    response={201: PortalAppointmentOut, **CHANGE_ERRORS},
    operation_id="portal_appointments_book",
    summary="Book a visit for a linked patient at a free slot",
    openapi_extra={"parameters": [IDEMPOTENCY_HEADER]},
)
def portal_appointment_book(request, payload: PortalBookIn):
    """The rules of the front desk's booking, with no overrides: a start from the doctor's free
    slots, in working hours, not on leave, in the future. A slot taken meanwhile, or a patient
    already booked then, is 409. Send an `Idempotency-Key` header to make a retry safe."""
    account = _patient_account(request)
    # Before a replay too: an account unlinked since learns nothing more of the record.
    patient = _linked(account, payload.patient)

    def book() -> dict:
        doctor = clinical_selectors.doctor_active(payload.doctor_id)
        if doctor is None:
            raise DomainError.invalid("doctor_id", _("Not an active doctor of this branch."))
        treatment = clinical_selectors.treatments_for(account).filter(pk=payload.treatment_id).first()
        if treatment is None:
            raise DomainError.invalid("treatment_id", _("No such treatment."))
        visit = services.portal_book(
            account=account,
            patient=patient,
            doctor=doctor,
            treatment=treatment,
            start=payload.start,
            address=client_address(request),
        )
        return _appointment_shape(visit, branch_zone())

    return idempotent(request, payload, book, status=201, schema=PortalAppointmentOut)


@portal.post(
    "/appointments/{uuid:appointment_id}/cancel/",
    response={200: PortalAppointmentOut, **CHANGE_ERRORS},
    operation_id="portal_appointments_cancel",
    summary="Cancel a linked patient's visit, up to the branch's cut-off before it",
)
def portal_appointment_cancel(request, appointment_id: uuid.UUID, payload: PortalCancelIn):
    """Send a JSON body, `{}` at least. After the visit's `cancellable_until` (the branch's
    cut-off) the answer is 422 on `appointment_id`, code `past_cancel_cut_off`: the patient calls
    the branch instead."""
    account = _patient_account(request)
    cancelled = services.portal_cancel(
        account=account,
        appointment=_visit(account, appointment_id),
        reason=payload.reason,
        address=client_address(request),
    )
    return _appointment_shape(cancelled, branch_zone())


@portal.get(
    "/patients/{uuid:patient_id}/",
    response={200: PortalPatientOut, **ERRORS},
    operation_id="portal_patients_get",
    summary="A linked patient's details",
)
def portal_patient_detail(request, patient_id: uuid.UUID):
    patient = _linked(_patient_account(request), patient_id)
    return patient_shape(patient, branch_today(), clinical=False)


@portal.patch(
    "/patients/{uuid:patient_id}/",
    response={200: PortalPatientOut, **CHANGE_ERRORS},
    operation_id="portal_patients_update",
    summary="Change a linked patient's contact details",
)
def portal_patient_update(request, patient_id: uuid.UUID, payload: PortalPatientPatch):
    account = _patient_account(request)
    patient = _linked(account, patient_id)
    changed = services.portal_patient_update(
        account=account,
        patient=patient,
        data=payload.model_dump(exclude_unset=True),
        address=client_address(request),
    )
    return patient_shape(changed, branch_today(), clinical=False)


def _timeline_shape(record: TreatmentRecord, zone) -> dict:
    return {
        "id": record.pk,
        "visit_at": record.visit_at.astimezone(zone),
        "doctor": person_shape(record.doctor),
        "treatment": {"id": record.treatment.pk, "name": record.treatment.name} if record.treatment else None,
        "advice": record.patient_advice,
        "follow_up_on": record.follow_up_on,
        "prescription": prescription_brief(getattr(record, "prescription", None)),
    }


@portal.get(
    "/timeline/",
    response={200: PortalTimeline, **ERRORS},
    operation_id="portal_timeline",
    summary="A linked patient's visits as recorded: advice and medicines, latest first",
)
def portal_timeline_list(request, query: Query[PortalPatientPage]):
    patient = _linked(_patient_account(request), query.patient)
    zone = branch_zone()
    page = portal_timeline(patient, page=query.page, page_size=query.page_size)
    return page_answer(page, lambda record: _timeline_shape(record, zone))


@portal.get(
    "/access-log/",
    response={200: PortalAccessLog, **ERRORS},
    operation_id="portal_access_log",
    summary="Who opened or changed a linked patient's record, latest first",
)
def portal_access_log_list(request, query: Query[PortalPatientPage]):
    patient = _linked(_patient_account(request), query.patient)
    zone = branch_zone()
    page = portal_access_log(patient, account=request.user, page=query.page, page_size=query.page_size)
    return page_answer(page, lambda entry: {**vars(entry), "at": entry.at.astimezone(zone)})


class PortalPatientQuery(Schema):
    patient: uuid.UUID = Field(description="One of the records in /api/portal/me/.")


@portal.get(
    "/queue/",
    response={200: PortalQueueOut, **ERRORS},
    operation_id="portal_queue",
    summary="A linked patient's place in today's queues, with an estimated wait",
)
def portal_queue(request, query: Query[PortalPatientQuery]):
    patient = _linked(_patient_account(request), query.patient)
    places = queue_places(patient_ids=[patient.pk], day=branch_today())
    return {
        "places": [
            {
                "token": place.entry.token,
                "doctor": person_shape(place.entry.doctor),
                "state": place.entry.state,
                "ahead": place.ahead,
                "wait_minutes": place.wait_minutes,
                "arrived_at": place.entry.arrived_at,
            }
            for place in places
        ]
    }
