"""Security events: who signed in, failed, was locked out or changed, when and from where."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import SecurityEvent, User


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or None


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
        address=client_address(request),
        detail=detail,
    )
