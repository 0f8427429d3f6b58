"""Sign-in by username or e-mail, whatever the capitals; a patient also by their phone number as
the branch's country writes it."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.db.models import Case, IntegerField, Q, Value, When

from accounts.models import Role, User
from core.phones import PhoneError, phone_e164


def normalise_username(username: str | None) -> str:
    return (username or "").strip().lower()


def lockout_username(request, credentials: dict | None) -> str:
    """The name django-axes counts failures under: one per account, whether it was typed as the
    username or the e-mail, in any capitals."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("username")
    name = normalise_username(username)
    user = _find(name) if name else None
    return user.username.lower() if user is not None else name


def _find(name: str) -> User | None:
    found = (
        User.objects.filter(Q(username__iexact=name) | Q(email__iexact=name))
        # A username match wins over an e-mail match.
        .order_by(Case(When(username__iexact=name, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .first()
    )
    if found is None and "@" not in name:
        # A patient whose account is their phone number types it as they write it: "07911 123456".
        found = User.objects.filter(role=Role.PATIENT, username=_phone(name)).first()
    return found


def _phone(name: str) -> str:
    region = getattr(connection.tenant, "country", "") or ""
    try:
        return phone_e164(name, region)
    except PhoneError:
        return ""


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        name = normalise_username(username)
        if not name or password is None:
            return None
        user = _find(name)
        if user is None:
            # Spend the time a wrong password would, so that timing says nothing about who exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
