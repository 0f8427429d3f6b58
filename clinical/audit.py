"""The audit trail: who did what to which patient, when and from where.

Rows are chained: each row's hash covers its content and the previous row's hash. Writers take
a per-branch advisory lock for the length of their transaction, so the chain has one order.
A denied attempt is recorded even though the request is refused: access checks run before any
write transaction, so nothing rolls the denial back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import GenericIPAddressField
from django.utils import timezone

from accounts.models import User
from clinical.models import AuditEvent

_AUDIT_LOCK_CLASS = 7310
GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    content = {
        "at": event.at.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_role": event.actor_role,
        "patient_id": str(event.patient_id) if event.patient_id else None,
        "action": event.action,
        "outcome": event.outcome,
        "break_glass": event.break_glass,
        "address": event.address,
        "detail": event.detail,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def audit_record(
    *,
    actor: User | None,
    action: str,
    patient_id: uuid.UUID | None = None,
    outcome: str = AuditEvent.Outcome.ALLOWED,
    break_glass: bool = False,
    address: str | None = None,
    **detail: Any,
) -> AuditEvent:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", [_AUDIT_LOCK_CLASS])
        previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        event = AuditEvent(
            at=timezone.now(),
            actor_id=actor.pk if actor else None,
            actor_name=(actor.full_name or actor.username) if actor else "",
            actor_role=actor.role if actor else "",
            patient_id=patient_id,
            action=action,
            outcome=outcome,
            break_glass=break_glass,
            address=_stored_address(address),
            detail={key: _plain(value) for key, value in detail.items()},
            previous_hash=previous,
        )
        event.hash = _hash(event)
        event.save(force_insert=True)
    return event


def _stored_address(address: str | None) -> str | None:
    """The address as the database gives it back, so the hash computed now is the one verified
    later: "::ffff:a00:5" is stored, and read, as "::ffff:10.0.0.5"."""
    if not address:
        return None
    return str(GenericIPAddressField().to_python(address))


def _plain(value: Any) -> Any:
    """Detail values as JSON keeps them, so the hash computed now is the hash verified later."""
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def audit_chain_verify(batch: int = 2000) -> Iterator[ChainBreak]:
    """Every place where the chain does not hold: a row whose content no longer matches its
    hash (edited), or whose link does not name the row before it (removed or inserted)."""
    previous = GENESIS
    last_id = 0
    while True:
        rows = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch])
        if not rows:
            return
        for event in rows:
            if event.previous_hash != previous:
                yield ChainBreak(event.id, "does not follow the row before it (a row was removed or inserted)")
            if _hash(event) != event.hash:
                yield ChainBreak(event.id, "its content does not match its hash (the row was edited)")
            previous = event.hash
            last_id = event.id
