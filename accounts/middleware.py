from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from core.branch import branch_zone

# Requests that the page makes by itself (status polling) send this header; they neither keep
# a session alive nor count as the user doing something.
BACKGROUND_HEADER = "X-Background"
_ACTIVITY_KEY = "last_activity"
# Writing the session on every click costs a query; a few seconds of slack costs nothing.
_ACTIVITY_RESOLUTION = 5


class IdleTimeoutMiddleware:
    """Ends a dashboard session after SESSION_IDLE_MINUTES without anything the user did."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        now = time.time()
        idle_limit = settings.SESSION_IDLE_MINUTES * 60
        last = request.session.get(_ACTIVITY_KEY, now)
        if now - last > idle_limit:
            logout(request)
            minutes = settings.SESSION_IDLE_MINUTES
            message = ngettext(
                "You were signed out after %(minutes)d minute without activity.",
                "You were signed out after %(minutes)d minutes without activity.",
                minutes,
            ) % {"minutes": minutes}
            if connection.schema_name == "public":
                login_url = "/admin/login/"
            elif request.path.startswith("/portal/"):  # patients sign in on the portal's own page
                login_url = reverse("portal:login")
            else:
                login_url = settings.LOGIN_URL
            messages.info(request, message)  # shown on the sign-in page, whichever way the user gets there
            if wants_json(request) or request.headers.get(BACKGROUND_HEADER) or request.headers.get("HX-Request"):
                response = JsonResponse({"detail": message}, status=401)
                response["HX-Redirect"] = login_url
                return response
            return redirect_to_login(request.get_full_path(), login_url)
        if self._is_activity(request) and (now - last >= _ACTIVITY_RESOLUTION or _ACTIVITY_KEY not in request.session):
            request.session[_ACTIVITY_KEY] = now
        request.idle_expires_at = request.session.get(_ACTIVITY_KEY, now) + idle_limit
        return self.get_response(request)

    @staticmethod
    def _is_activity(request) -> bool:
        # The page's own polling is not the user; nor is the sign-in page the idle timer sends
        # them to (it must not renew the session it is about to end).
        return not request.headers.get(BACKGROUND_HEADER) and request.path != settings.LOGIN_URL


def wants_json(request) -> bool:
    """API paths answer in JSON; the dashboard in HTML."""
    return request.path.startswith("/api/")


class BranchLocaleMiddleware:
    """The user's preferred language, else the branch's first language; the branch's time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = (
            (user.preferred_language if user is not None and user.is_authenticated else "")
            or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
            or getattr(connection.tenant, "default_language", "")
            or settings.LANGUAGE_CODE
        )
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        if getattr(connection.tenant, "time_zone", ""):
            timezone.activate(branch_zone())
        else:  # the public host
            timezone.deactivate()
        response = self.get_response(request)
        # What the response was written in: an API token's account may have chosen another.
        response.setdefault("Content-Language", translation.get_language() or language)
        return response
