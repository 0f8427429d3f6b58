"""The portal's pages on the branch host. For now: accepting an invitation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.branch import branch_current
from core.errors import DomainError
from portal.services import portal_invite_accept, portal_invite_check, portal_invite_find

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


urlpatterns = [path("portal/activate/<str:token>/", activate, name="activate")]
