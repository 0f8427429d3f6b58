from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Role

ADMINISTRATION = _("Administration")
# (label, url name, roles that see it, menu or None for the bar itself). Later features add
# their screens here; the branch's administration pages share one menu so the bar stays one line.
NAVIGATION = [
    (_("Home"), "home", {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST}, None),
    (_("My day"), "scheduling:my_day", {Role.DOCTOR}, None),
    (_("My queue"), "scheduling:queue_mine", {Role.DOCTOR}, None),
    (_("Queue"), "scheduling:queue", {Role.HOSPITAL_ADMIN, Role.RECEPTIONIST}, None),
    (_("Schedule"), "scheduling:schedule", {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST}, None),
    (_("Patients"), "clinical:patient_search", {Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST}, None),
    (_("Follow-ups"), "clinical:follow_ups", {Role.HOSPITAL_ADMIN, Role.RECEPTIONIST}, None),
    (_("Doctors and hours"), "scheduling:doctors", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Treatments"), "clinical:treatments", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Break-glass review"), "clinical:break_glass_review", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Audit trail"), "clinical:audit", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Staff"), "accounts:staff_list", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Security log"), "accounts:security_log", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Reminders and printing"), "scheduling:branch_settings", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
    (_("Queue rules"), "scheduling:queue_settings", {Role.HOSPITAL_ADMIN}, ADMINISTRATION),
]


def _idle_seconds_left(request) -> int | None:
    expires_at = getattr(request, "idle_expires_at", None)
    return None if expires_at is None else max(1, int(expires_at - time.time()))


def dashboard(request):
    tenant = getattr(connection, "tenant", None)
    user = getattr(request, "user", None)
    navigation: list[dict] = []
    if user is not None and user.is_authenticated:
        menus: dict[str, dict] = {}
        for label, name, roles, menu in NAVIGATION:
            if user.role not in roles:
                continue
            url = reverse(name)
            # A page below a section (a patient's profile under "Patients") keeps it highlighted.
            item = {
                "label": label,
                "url": url,
                "active": request.path == url or (url != "/" and request.path.startswith(url)),
            }
            if menu is None:
                navigation.append(item)
            else:
                if menu not in menus:
                    menus[menu] = {"label": menu, "children": [], "active": False}
                    navigation.append(menus[menu])
                menus[menu]["children"].append(item)
                menus[menu]["active"] |= item["active"]
    return {
        "branch": tenant if getattr(tenant, "pk", None) else None,
        "navigation": navigation,
        "idle_minutes": settings.SESSION_IDLE_MINUTES,
        "idle_seconds_left": _idle_seconds_left(request),
    }
