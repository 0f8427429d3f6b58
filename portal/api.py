"""The portal routes of the branch API, for patient accounts only (the Dart app)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Query, Router

from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from clinical.models import Patient
from core.api import ERRORS, ErrorOut
from core.branch import branch_zone
from core.errors import DomainError
from portal.schemas import PortalAppointmentList, PortalAppointmentQuery, PortalMeOut
from portal.selectors import account_links, linked_patient, portal_appointments
from scheduling.models import Appointment

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
        "doctor": {"id": visit.doctor_id, "full_name": visit.doctor.full_name or visit.doctor.username},
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
    return {
        "items": [_appointment_shape(visit, zone) for visit in page.items],
        "count": page.count,
        "page": page.page,
        "page_size": page.page_size,
    }
