"""Security events: who signed in, failed, was locked out or changed, when and from where."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.addresses import client_address
from accounts.models import SecurityEvent, User


def _address(request: HttpRequest | None) -> str | None:
    return client_address(request) if request is not None else None


def security_event_record(
    *,
    kind: str,
    request: HttpRequest | None = None,
    user: User | None = None,
    username: str = "",
    actor: User | None = None,
    **detail: object,
) -> SecurityEvent:
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=username or (user.username if user else ""),
        actor=actor,
        address=_address(request),
        detail=detail,
    )
