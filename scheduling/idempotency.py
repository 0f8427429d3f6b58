"""``Idempotency-Key``: a retried request gets the first answer instead of doing the work twice.

A phone on a bad network sends a booking, the answer is lost, the app sends it again: with the
same key the second request returns the first booking. The key is scoped to the user (two users
may pick the same key). While the first request is still working, the key is held by an advisory
lock of its transaction, so a second request with it is told so (409) instead of waiting or
booking twice. The answer is stored in the transaction that does the work: a request that crashes
or fails stores nothing, and its key is free for the retry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel

from accounts.models import User
from core.db import current_schema
from core.errors import DomainError
from scheduling.models import IdempotentRequest

HEADER = "Idempotency-Key"
# How long a key is remembered: far longer than any client retries, short enough to stay small.
KEPT_FOR = dt.timedelta(hours=24)
_LOCK_CLASS = 7313
_MAX_LENGTH = 200


def _key_of(request: HttpRequest) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= _MAX_LENGTH or not key.isascii() or not key.isprintable() or not key.strip():
        raise DomainError.invalid(f"header:{HEADER}", _("An Idempotency-Key is 1 to 200 printable ASCII characters."))
    return key


def _fingerprint(request: HttpRequest, body: BaseModel) -> str:
    asked = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{asked}".encode()).hexdigest()


def idempotent(
    request: HttpRequest,
    body: BaseModel,
    work: Callable[[], Any],
    *,
    status: int,
    schema: type[BaseModel],
) -> JsonResponse:
    """Run ``work`` once per (user, key), answering ``status`` with ``work()``'s result in
    ``schema``. Without the header it simply runs. A refusal (an error) is not stored: nothing
    was done, so the retry runs again."""
    key = _key_of(request)
    if key is None:
        return _answer(status, _dump(schema, work()))
    user: User = request.user  # type: ignore[assignment]
    fingerprint = _fingerprint(request, body)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Advisory locks are the whole database's and user ids repeat in every branch: the
            # branch is part of the lock's key.
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                [_LOCK_CLASS, f"{current_schema()}:{user.pk}:{key}"],
            )
            (held,) = cursor.fetchone()
        if not held:
            raise DomainError(
                _("A request with this Idempotency-Key is still being processed; try again shortly."),
                kind="conflict",
                code="idempotency_in_flight",
                retry_after=1,
            )
        IdempotentRequest.objects.filter(user=user, key=key, created_at__lt=timezone.now() - KEPT_FOR).delete()
        first = IdempotentRequest.objects.filter(user=user, key=key).first()
        if first is not None:
            if first.fingerprint != fingerprint:
                raise DomainError.invalid(
                    f"header:{HEADER}",
                    _("This Idempotency-Key was used for a different request."),
                    code="idempotency_key_reused",
                )
            replay = _answer(first.status_code, first.response)
            replay["Idempotent-Replayed"] = "true"
            return replay
        answer = _dump(schema, work())
        IdempotentRequest.objects.create(
            user=user, key=key, fingerprint=fingerprint, status_code=status, response=answer
        )
    return _answer(status, answer)


def _dump(schema: type[BaseModel], result: Any) -> Any:
    shaped = schema.model_validate(result).model_dump(mode="json")
    return json.loads(json.dumps(shaped, cls=DjangoJSONEncoder))


def _answer(status: int, data: Any) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False)


def idempotency_purge() -> int:
    """Forget keys older than they are kept; run from beat for every branch."""
    deleted, _counts = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    return deleted
