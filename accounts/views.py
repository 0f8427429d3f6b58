from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import security_event_record
from accounts.backends import normalise_username
from accounts.forms import InviteForm, LanguageForm, PasswordResetRequestForm, RoleForm
from accounts.models import SecurityEvent, User
from accounts.permissions import admin_required, staff_required
from accounts.selectors import security_events_recent, staff_list
from accounts.services import (
    password_reset_request,
    password_set,
    staff_change_role,
    staff_deactivate,
    staff_invite,
    staff_reactivate,
    user_set_language,
)
from core.errors import DomainError


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not user.is_staff_member:
            # Patients sign in to the portal, not the staff dashboard.
            form.add_error(None, _("This sign-in is for hospital staff. Patients use the patient portal."))
            return self.form_invalid(form)
        response = super().form_valid(form)
        security_event_record(kind=SecurityEvent.Kind.LOGIN, request=self.request, user=user, via="dashboard")
        return response

    def form_invalid(self, form):
        if not getattr(self.request, "axes_locked_out", False):
            typed = normalise_username(self.request.POST.get("username", "")).replace("\x00", "")
            security_event_record(
                kind=SecurityEvent.Kind.LOGIN_FAILED, request=self.request, username=typed[:150], via="dashboard"
            )
        return super().form_invalid(form)


def signed_out(request, *, via: str, to: str):
    """End the session (recorded, with where it was ended) and go to a sign-in page."""
    if request.user.is_authenticated:
        security_event_record(kind=SecurityEvent.Kind.LOGOUT, request=request, user=request.user, via=via)
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect(to)


@require_POST
def logout_view(request):
    return signed_out(request, via="dashboard", to="accounts:login")


@require_POST
def keepalive(request):
    """The "stay signed in" button: a user action, so it renews the idle timer."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Signed out.")}, status=401)
    return JsonResponse({"seconds_left": settings.SESSION_IDLE_MINUTES * 60})


def session_status(request):
    """How long the session has left, asked with X-Background so that asking renews nothing
    (another tab may have renewed it; if not, the idle middleware has already ended it: 401)."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Signed out.")}, status=401)
    return JsonResponse({"seconds_left": max(0, int(request.idle_expires_at - time.time()))})


def set_password(request, uidb64: str, token: str):
    """The one-time link from an invite or a reset e-mail."""
    try:
        user = get_user_model().objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "accounts/set_password.html", {"invalid": True}, status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_set(user=user, password=form.cleaned_data["new_password1"], request=request)
        if not user.is_staff_member:  # patients sign in to the portal, not here
            return render(request, "accounts/password_set_done.html")
        login(request, user, backend="accounts.backends.UsernameOrEmailBackend")
        messages.success(request, _("Your password is set. Welcome."))
        return redirect("home")
    return render(request, "accounts/set_password.html", {"form": form, "account": user})


def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset_request(email=form.cleaned_data["email"], request=request)
        return render(request, "accounts/password_reset_sent.html")
    return render(request, "accounts/password_reset.html", {"form": form})


@admin_required
def staff_index(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = staff_invite(invited_by=request.user, request=request, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invited.email})
            return redirect("accounts:staff_list")
    return render(
        request,
        "accounts/staff_list.html",
        {
            "staff": staff_list(),
            "form": form,
            "role_form": RoleForm(),
        },
        status=422 if form.errors else 200,
    )


@admin_required
@require_POST
def staff_role(request, user_id: int):
    member = get_object_or_404(staff_list(), pk=user_id)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise DomainError.invalid("role", _("Choose hospital admin, doctor or receptionist."))
        staff_change_role(user=member, role=form.cleaned_data["role"], changed_by=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s's role is changed.") % {"name": member})
    return redirect("accounts:staff_list")


@admin_required
@require_POST
def staff_active(request, user_id: int):
    member = get_object_or_404(staff_list(), pk=user_id)
    try:
        if request.POST.get("active") == "0":
            staff_deactivate(user=member, deactivated_by=request.user, request=request)
            messages.success(request, _("%(name)s is deactivated and signed out everywhere.") % {"name": member})
        else:
            staff_reactivate(user=member, reactivated_by=request.user, request=request)
            messages.success(request, _("%(name)s is active again.") % {"name": member})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("accounts:staff_list")


@admin_required
def security_log(request):
    return render(request, "accounts/security_log.html", {"events": security_events_recent()})


@staff_required
def account(request):
    form = LanguageForm(request.POST or None, initial={"language": request.user.preferred_language})
    if request.method == "POST" and form.is_valid():
        user_set_language(user=request.user, language=form.cleaned_data["language"])
        messages.success(request, _("Language saved."))
        return redirect("accounts:account")
    return render(request, "accounts/account.html", {"form": form})


def forbidden(request, exception=None):
    return render(request, "403.html", {"message": str(exception or "")}, status=403)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)
