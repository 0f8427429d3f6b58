from __future__ import annotations

from ninja import Router, Status

from core.api import ErrorOut, ValidationErrorOut
from tenants.schemas import HospitalIn, HospitalOut, OnboardedOut
from tenants.selectors import hospital_list, hospital_out
from tenants.services import hospital_onboard

router = Router(tags=["platform"])


@router.post(
    "/",
    response={201: OnboardedOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut},
    operation_id="platform_branches_onboard",
    summary="Onboard a branch",
)
def hospital_create(request, payload: HospitalIn):
    onboarded = hospital_onboard(
        group_name=payload.group,
        name=payload.name,
        slug=payload.slug,
        country=payload.country,
        time_zone=payload.time_zone,
        admin_email=payload.admin_email,
        admin_name=payload.admin_name,
        languages=payload.languages,
        mrn_prefix=payload.mrn_prefix,
        address=payload.address,
        contact_phone=payload.contact_phone,
        contact_email=payload.contact_email,
    )
    hospital = hospital_list().get(pk=onboarded.hospital.pk)
    return Status(201, {**hospital_out(hospital), "admin_set_password_link": onboarded.set_password_link})


@router.get(
    "/",
    response={200: list[HospitalOut], 401: ErrorOut, 403: ErrorOut},
    operation_id="platform_branches_list",
    summary="List branches",
)
def hospitals(request):
    return [hospital_out(hospital) for hospital in hospital_list()]
