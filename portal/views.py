"""The portal's pages on the branch host: accepting an invitation, and the front desk's card of
a patient's portal access on their profile (invite, send again, withdraw; link an existing
account, unlink, deactivate). The patients' own pages are in portal/web.py."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import role_required
from clinical.models import Patient
from core.branch import branch_current
from core.errors import DomainError
from portal import web
from portal.models import PortalInvite
from portal.selectors import PortalCandidate, patient_link, portal_account_by_id, portal_candidate, portal_status
from portal.services import (
    portal_account_deactivate,
    portal_account_find,
    portal_invite,
    portal_invite_accept,
    portal_invite_check,
    portal_invite_find,
    portal_invite_revoke,
    portal_link,
    portal_unlink,
)

app_name = "portal"


@never_cache
@require_http_methods(["GET", "POST"])
def activate(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's one-time link: choose a password, and the account is made. A link that
    is unknown, used, withdrawn or expired gets a page that says so (404 or 410)."""
    try:
        invite = portal_invite_check(portal_invite_find(token))
    except DomainError as exc:
        return render(request, "portal/activate.html", {"refused": exc.message}, status=_refused_status(exc))
    errors: dict[str, str] = {}
    if request.method == "POST":
        password = request.POST.get("password1", "")
        if password != request.POST.get("password2", ""):
            errors["password2"] = _("The two passwords differ.")
        else:
            try:
                account = portal_invite_accept(token=token, password=password)
            except DomainError as exc:
                if exc.field == "password" or (exc.errors and exc.errors[0][0] == "password"):
                    errors["password1"] = exc.message
                else:
                    return render(
                        request, "portal/activate.html", {"refused": exc.message}, status=_refused_status(exc)
                    )
            else:
                return render(request, "portal/activate.html", {"done": True, "username": account.username})
    context = {"branch_name": branch_current().name, "errors": errors, "invite": invite}
    return render(request, "portal/activate.html", context, status=422 if errors else 200)


def _refused_status(exc: DomainError) -> int:
    return 404 if exc.kind == "not_found" else 410


# --- the front desk's card ---------------------------------------------------------------------

DESK = (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST)


def _card(
    request: HttpRequest,
    patient: Patient,
    *,
    error: str = "",
    status: int = 200,
    linking: bool = False,
    candidate: PortalCandidate | None = None,
    relationship: str = "",
) -> HttpResponse:
    context = {
        "patient": patient,
        "portal": portal_status(patient),
        "error": error,
        "linking": linking,
        "candidate": candidate,
        "relationship": relationship,
    }
    return render(request, "portal/_invite_card.html", context, status=status)


def _answer(
    request: HttpRequest, patient: Patient, *, error: str = "", status: int = 200, linking: bool = False
) -> HttpResponse:
    """The card again for htmx; without it, back to the profile."""
    if request.htmx:  # type: ignore[attr-defined]
        return _card(request, patient, error=error, status=status, linking=linking)
    return redirect("clinical:patient_profile", patient.pk)


@role_required(*DESK)
@require_GET
def invite_card(request: HttpRequest, patient_id: str) -> HttpResponse:
    return _card(request, get_object_or_404(Patient, pk=patient_id))


@role_required(*DESK)
@require_POST
def invite_send(request: HttpRequest, patient_id: str) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    user: User = request.user  # type: ignore[assignment]
    try:
        portal_invite(patient=patient, invited_by=user, channel=request.POST.get("channel", ""))
    except DomainError as exc:
        return _answer(request, patient, error=exc.message, status=422)
    return _answer(request, patient)


@role_required(*DESK)
@require_POST
def account_deactivate(request: HttpRequest, patient_id: str, account_id: int) -> HttpResponse:
    """End an account linked to this patient (a lost phone, a carer no longer caring)."""
    patient = get_object_or_404(Patient, pk=patient_id)
    link = patient_link(patient, account_id)
    if link is None:
        raise Http404(_("No such account here."))
    portal_account_deactivate(account=link.account, deactivated_by=request.user, request=request)  # type: ignore[arg-type]
    return _answer(request, patient)


@role_required(*DESK)
@require_POST
def account_link(request: HttpRequest, patient_id: str) -> HttpResponse:
    """Let an existing patient account (a parent's, a carer's) act for this record too, in two
    steps: the account found by what the desk typed is shown with its owner's own record, and is
    linked only when the desk confirms that person (one phone is often a whole family's)."""
    patient = get_object_or_404(Patient, pk=patient_id)
    relationship = request.POST.get("relationship", "")
    confirmed = request.POST.get("confirm", "")
    if not confirmed:
        account = portal_account_find(request.POST.get("account", ""))
        if account is None:
            return _answer(
                request,
                patient,
                error=_("No active patient account has this e-mail address or phone number."),
                status=422,
                linking=True,
            )
        return _card(request, patient, linking=True, candidate=portal_candidate(account), relationship=relationship)
    account = portal_account_by_id(confirmed)
    if account is None:
        return _answer(request, patient, error=_("That account is no longer active."), status=422, linking=True)
    try:
        portal_link(
            account=account,
            patient=patient,
            relationship=relationship,
            linked_by=request.user,  # type: ignore[arg-type]
            address=client_address(request),
        )
    except DomainError as exc:
        return _answer(request, patient, error=exc.message, status=422, linking=True)
    return _answer(request, patient)


@role_required(*DESK)
@require_POST
def account_unlink(request: HttpRequest, patient_id: str, account_id: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=patient_id)
    link = patient_link(patient, account_id)
    if link is None:
        raise Http404(_("No such account here."))
    portal_unlink(link=link, unlinked_by=request.user, address=client_address(request))  # type: ignore[arg-type]
    return _answer(request, patient)


@role_required(*DESK)
@require_POST
def invite_revoke(request: HttpRequest, invite_id: int) -> HttpResponse:
    invite = get_object_or_404(PortalInvite.objects.select_related("patient"), pk=invite_id)
    portal_invite_revoke(invite=invite, revoked_by=request.user)  # type: ignore[arg-type]
    return _answer(request, invite.patient)


urlpatterns = [
    *web.urlpatterns,
    path("portal/activate/<str:token>/", activate, name="activate"),
    path("patients/<uuid:patient_id>/portal/", invite_card, name="invite_card"),
    path("patients/<uuid:patient_id>/portal/invite/", invite_send, name="invite_send"),
    path("portal/invites/<int:invite_id>/revoke/", invite_revoke, name="invite_revoke"),
    path("patients/<uuid:patient_id>/portal/link/", account_link, name="account_link"),
    path("patients/<uuid:patient_id>/portal/accounts/<int:account_id>/unlink/", account_unlink, name="account_unlink"),
    path(
        "patients/<uuid:patient_id>/portal/accounts/<int:account_id>/deactivate/",
        account_deactivate,
        name="account_deactivate",
    ),
]
