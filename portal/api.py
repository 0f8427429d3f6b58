"""The portal routes of the branch API, for patient accounts only (the Dart app)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Router

from accounts.models import Role, User
from accounts.permissions import BranchTokenAuth
from core.api import ErrorOut
from core.errors import DomainError
from portal.schemas import PortalMeOut
from portal.selectors import account_links

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
