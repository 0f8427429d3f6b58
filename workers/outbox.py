"""The outbox: work after a write, never lost.

A service calls :func:`outbox_enqueue` inside its transaction. After commit the row is sent to
Celery at once (from the row's branch, so the task runs there); if Redis is down the row stays
and the relay (``manage.py outbox_relay``, part of ``up``) sends it when Redis is back. A write
that rolls back leaves no row, so nothing is sent for it.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from celery import Celery
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.db import current_schema
from workers.celery import app
from workers.models import OutboxMessage

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=1)


def outbox_enqueue(task_name: str, **kwargs: object) -> OutboxMessage:
    """Record a task to run in the current branch once this transaction commits."""
    message = OutboxMessage.objects.create(
        schema_name=current_schema(),
        task_name=task_name,
        kwargs=kwargs,
    )
    transaction.on_commit(lambda: _relay_quietly(message.pk))
    return message


def _relay_quietly(message_id: int) -> None:
    try:
        outbox_relay(ids=[message_id])
    except Exception:  # the relay process will try again; the request must not fail for it
        logger.exception("outbox relay after commit failed; the relay process will retry")


def outbox_relay(*, ids: list[int] | None = None, limit: int = 200, celery_app: Celery = app) -> int:
    """Send pending messages whose time has come. Returns how many were sent.

    Rows are claimed with SKIP LOCKED, so several relays never send the same row at once. A
    crash between sending and committing sends a row twice: tasks are idempotent.
    """
    sent = 0
    with schema_context("public"), transaction.atomic():
        pending = OutboxMessage.objects.filter(sent_at__isnull=True, available_at__lte=timezone.now())
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        batch = list(pending.select_for_update(skip_locked=True).order_by("pk")[:limit])
        if batch and not _broker_reachable(celery_app):
            _postpone(batch, ConnectionError("the broker does not answer"))
            return 0
        for position, message in enumerate(batch):
            try:
                with schema_context(message.schema_name):
                    celery_app.send_task(
                        message.task_name, kwargs=message.kwargs, task_id=f"outbox-{message.pk}", retry=False
                    )
            except Exception as exc:  # the broker is down: keep this and the rest for later
                _postpone(batch[position:], exc)
                break
            message.sent_at = timezone.now()
            message.save(update_fields=["sent_at"])
            sent += 1
    return sent


def _broker_reachable(celery_app: Celery) -> bool:
    """A one-second check before sending. Celery's own send retries a refused connection for
    seconds, and the first send after a commit runs inside the user's request."""
    try:
        return bool(_ping_client(celery_app.conf.broker_url).ping())
    except RedisError:
        return False


@functools.cache
def _ping_client(url: str) -> Redis:
    # One client (and connection pool) per broker URL: no new connection for every write. One
    # retry, so that a pooled connection left stale by a Redis restart is replaced at once.
    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 1))


def _postpone(messages: list[OutboxMessage], exc: Exception) -> None:
    logger.warning("broker unavailable, %d outbox message(s) kept for later: %s", len(messages), exc)
    now = timezone.now()
    for message in messages:
        message.attempts += 1
        message.last_error = str(exc)[:500]
        message.available_at = now + min(timedelta(seconds=2 ** min(message.attempts, 6)), MAX_BACKOFF)
        message.save(update_fields=["attempts", "last_error", "available_at"])
