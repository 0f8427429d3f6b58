"""The Celery app. Tasks live next to their services (``accounts/tasks.py`` ...) and are sent
by name; this package imports none of the domain apps."""

from __future__ import annotations

import os
from typing import Any

from celery import bootsteps, signals
from django.db import close_old_connections
from tenant_schemas_celery.app import CeleryApp

from config import heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("hospital", task_cls="workers.base:BranchTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_postrun.connect
def _connections_checked(sender: Any = None, **kwargs: Any) -> None:
    """What Django does after a request: close a connection that broke or outlived CONN_MAX_AGE,
    and have the next task's first query check the one kept (PostgreSQL may restart meanwhile).
    Celery itself only closes them every CELERY_DB_REUSE_MAX tasks. Not for a task run eagerly
    (``apply``): it runs inside its caller's transaction, which this would close."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


class Heartbeat(bootsteps.StartStopStep):
    """The worker touches its heartbeat file (``worker-<node>``, e.g. ``worker-default``) every
    10 seconds from its own timer, and its liveness probe reads the file's age
    (config.heartbeat). The timer stops when the worker is stuck, and also while the broker is
    away (the consumer waits to reconnect), which is why the probe passes a stale file when the
    broker does not answer either: a restart would not bring the broker back. (Celery before
    5.6.1 cleared the timer on a lost connection for good: pyproject asks for 5.7.)"""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.file = f"worker-{worker.hostname.split('@')[0]}"
        self.tref = None

    def start(self, worker: Any) -> None:
        heartbeat.beat(self.file)
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, heartbeat.beat, (self.file,), priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()


HEARTBEAT_SECONDS = 10.0
app.steps["worker"].add(Heartbeat)
