"""``/verify/<code>/``: a pharmacist checks a printed prescription. Open to anyone on the
branch's host, and so it says nothing more than the paper does not already prove: the issuing
branch, the doctor, the date and whether it is still valid. No MRN, no medicines, no patient.
Lookups are limited per address, so codes cannot be tried in bulk (they are 192-bit random
anyway)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.addresses import client_address
from clinical.models import Prescription
from core.branch import branch_zone
from core.ratelimit import over_limit

# Lookups an address may make in a window, and the window: a pharmacy checks a few an hour.
VERIFY_LIMIT = 20
VERIFY_WINDOW_SECONDS = 60
CODE_MAX_LENGTH = 64


@never_cache
@require_http_methods(["GET"])
def verify(request: HttpRequest, code: str) -> HttpResponse:
    # The codes are unguessable; the limit only brakes trying them in bulk.
    if over_limit(
        f"verify:{client_address(request) or 'unknown'}", limit=VERIFY_LIMIT, window_seconds=VERIFY_WINDOW_SECONDS
    ):
        response = render(request, "clinical/verify.html", {"limited": True}, status=429)
        response["Retry-After"] = str(VERIFY_WINDOW_SECONDS)
        return response
    prescription = (
        Prescription.objects.select_related("record__doctor").filter(verification_code=code[:CODE_MAX_LENGTH]).first()
    )
    if prescription is None:
        return render(request, "clinical/verify.html", {"found": False}, status=404)
    record = prescription.record
    context = {
        "found": True,
        "doctor": record.doctor.full_name or record.doctor.username,
        "issued": record.visit_at.astimezone(branch_zone()),
        # A correction replaces the paper: an earlier version is no longer valid.
        "valid": record.is_current,
    }
    return render(request, "clinical/verify.html", context)


urlpatterns = [path("verify/<str:code>/", verify, name="verify")]
