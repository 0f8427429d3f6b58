from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Role

# (label, url name, roles that see it). Later features add their screens here.
NAVIGATION = [
    (_("Home"), "home", {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST}),
    (_("Patients"), "clinical:patient_search", {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST}),
    (_("Follow-ups"), "clinical:follow_ups", {Role.HOSPITAL_ADMIN, Role.RECEPTIONIST}),
    (_("Treatments"), "clinical:treatments", {Role.HOSPITAL_ADMIN}),
    (_("Break-glass review"), "clinical:break_glass_review", {Role.HOSPITAL_ADMIN}),
    (_("Audit trail"), "clinical:audit", {Role.HOSPITAL_ADMIN}),
    (_("Staff"), "accounts:staff_list", {Role.HOSPITAL_ADMIN}),
    (_("Security log"), "accounts:security_log", {Role.HOSPITAL_ADMIN}),
]


def _idle_seconds_left(request) -> int | None:
    expires_at = getattr(request, "idle_expires_at", None)
    return None if expires_at is None else max(1, int(expires_at - time.time()))


def dashboard(request):
    tenant = getattr(connection, "tenant", None)
    user = getattr(request, "user", None)
    navigation = []
    if user is not None and user.is_authenticated:
        urls = [(label, reverse(name)) for label, name, roles in NAVIGATION if user.role in roles]
        navigation = [{"label": label, "url": url, "active": request.path == url} for label, url in urls]
    return {
        "branch": tenant if getattr(tenant, "pk", None) else None,
        "navigation": navigation,
        "idle_minutes": settings.SESSION_IDLE_MINUTES,
        "idle_seconds_left": _idle_seconds_left(request),
    }
