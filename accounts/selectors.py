from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import STAFF_ROLES, SecurityEvent, User


def staff_list() -> QuerySet[User]:
    return User.objects.filter(role__in=STAFF_ROLES).order_by("-is_active", "full_name", "email")


def security_events_recent(limit: int = 200) -> QuerySet[SecurityEvent]:
    return SecurityEvent.objects.select_related("user", "actor").order_by("-at")[:limit]
