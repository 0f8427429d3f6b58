"""The portal routes of the branch API, for patient accounts only (the Dart app)."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router

from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from clinical.api import page_answer, person_shape, prescription_file_answer
from clinical.models import Patient, Prescription
from clinical.schemas import PdfPending
from core.api import ERRORS, ErrorOut
from core.branch import branch_zone
from core.errors import DomainError
from portal.schemas import (
    PortalAppointmentList,
    PortalAppointmentQuery,
    PortalMeOut,
    PortalPatientPage,
    PortalPrescriptionList,
)
from portal.selectors import (
    account_links,
    linked_patient,
    portal_appointment,
    portal_appointments,
    portal_prescription,
    portal_prescriptions,
)
from scheduling.models import Appointment
from scheduling.reminders import appointment_ics

portal = Router(tags=["portal"], auth=BranchTokenAuth())


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
    return {
        "id": visit.pk,
        "start": visit.start.astimezone(zone),
        "end": visit.end.astimezone(zone),
        "time_zone": str(zone.key),
        "doctor": person_shape(visit.doctor),
        "treatment": {"id": visit.treatment_id, "name": visit.treatment.name},
        "status": visit.status,
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
