"""The platform's long-running processes as commands: one list, used by ``manage.py up``, the
container image (``manage.py run_process <name>``, which the compose file and the Helm chart
call) and the benchmarks, so their flags never drift apart.

A name's command takes its sizes from the environment where a deployment tunes them
(``WEB_WORKERS``, ``WEB_THREADS``, ``WORKER_CONCURRENCY``, ``PDF_WORKER_CONCURRENCY``), and the
same defaults everywhere else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from django.conf import settings


def _bin(name: str) -> str:
    """A script installed beside this interpreter (the project's environment)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def _size(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def celery_command(*arguments: str) -> list[str]:
    """``celery -A workers.celery <arguments>`` from this environment's scripts."""
    return [_bin("celery"), "-A", "workers.celery", *arguments]


def web_command(*, bind: str, workers: int = 2, threads: int = 4) -> list[str]:
    """gunicorn with threads, running Django's sync views; a stopping pod finishes its requests
    within the graceful timeout. gunicorn's ``--timeout`` restarts a worker process that stops
    answering its master; it does not cut a slow request in a thread (work that long belongs on
    a Celery worker).

    No access log: URLs carry patient searches (names, phone numbers) and one-time tokens. The
    application logs each error with the branch and the request id instead (config.logging)."""
    return [
        _bin("gunicorn"),
        "config.wsgi",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "20",
        # Longer than the proxy's idle time for upstream connections (ingress-nginx and cloud
        # load balancers: 60 s), so the proxy closes first and never sends on a socket closed here.
        "--keep-alive",
        "75",
        # Heartbeat files in memory, not on a disk that may be read-only or slow.
        "--worker-tmp-dir",
        "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",  # noqa: S108 - gunicorn's heartbeat files
    ]


def default_worker_command(*, concurrency: int = 2) -> list[str]:
    return celery_command(
        "worker",
        "--queues",
        "default",
        "--hostname",
        "default@%h",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
    )


def pdf_worker_command(*, concurrency: int = 1) -> list[str]:
    """The pdf queue's worker: processes recycled for memory (WeasyPrint grows) or, rarely, count."""
    return celery_command(
        "worker",
        "--queues",
        "pdf",
        "--hostname",
        "pdf@%h",
        "--concurrency",
        str(concurrency),
        "--max-tasks-per-child",
        str(settings.PDF_WORKER_MAX_TASKS_PER_CHILD),
        "--max-memory-per-child",
        str(settings.PDF_WORKER_MAX_MEMORY_PER_CHILD),
        "--loglevel",
        "INFO",
    )


def beat_command() -> list[str]:
    """Celery beat: exactly one in a deployment, or periodic work runs twice."""
    return celery_command(
        "beat",
        "--scheduler",
        "workers.beat:HeartbeatScheduler",
        "--schedule",
        settings.CELERY_BEAT_SCHEDULE_FILENAME,
        "--loglevel",
        "INFO",
    )


def relay_command() -> list[str]:
    """The outbox relay: hands committed outbox rows to Celery (workers.outbox)."""
    return [sys.executable, os.path.join(settings.BASE_DIR, "manage.py"), "outbox_relay"]


# Celery's node name of each worker: its start-up ping (celery inspect ping -d NAME@host) and its
# heartbeat file (worker-NAME).
WORKER_NODE_NAMES = {"worker": "default", "pdf-worker": "pdf"}


def process_commands(*, bind: str = "", environ: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Every process the platform runs, by name, in the order they start. The web server binds
    ``bind``, by default every address on ``PORT`` (8000): in a container."""
    environ = os.environ if environ is None else environ
    bind = bind or f"0.0.0.0:{environ.get('PORT') or '8000'}"
    return {
        "web": web_command(
            bind=bind, workers=_size(environ, "WEB_WORKERS", 2), threads=_size(environ, "WEB_THREADS", 4)
        ),
        "worker": default_worker_command(concurrency=_size(environ, "WORKER_CONCURRENCY", 2)),
        "pdf-worker": pdf_worker_command(concurrency=_size(environ, "PDF_WORKER_CONCURRENCY", 1)),
        "beat": beat_command(),
        "relay": relay_command(),
    }
