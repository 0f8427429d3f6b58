"""The answer to a locked-out sign-in: JSON 429 on the API, a page on the dashboard."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.audit import security_event_record
from accounts.middleware import wants_json
from accounts.models import SecurityEvent


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    cool_off = get_cool_off(request)
    retry_after = int(cool_off.total_seconds()) if cool_off else 900
    username = (credentials or {}).get("username", "")
    security_event_record(kind=SecurityEvent.Kind.LOCKED_OUT, request=request, username=username or "")
    message = _("Too many failed sign-ins. Try again in %(minutes)d minutes.") % {"minutes": max(1, retry_after // 60)}
    if wants_json(request):
        response: HttpResponse = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
