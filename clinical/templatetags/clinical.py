from __future__ import annotations

from django import template
from django.utils import timezone

from clinical.validation import age_display

register = template.Library()


@register.filter
def age(date_of_birth) -> str:
    """The age as a clinician reads it, on the branch's today (its time zone is active)."""
    return age_display(date_of_birth, timezone.localdate()) if date_of_birth else ""
