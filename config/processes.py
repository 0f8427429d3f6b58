"""The platform's worker processes as commands: one list, used by ``manage.py up`` and the
benchmarks (and, later, the container image), so their flags never drift apart."""

from __future__ import annotations

import os
import sys

from django.conf import settings


def celery_command(*arguments: str) -> list[str]:
    """``celery -A workers.celery <arguments>`` from this environment's scripts."""
    return [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "workers.celery", *arguments]


def default_worker_command(*, concurrency: int = 2) -> list[str]:
    return celery_command("worker", "--queues", "default", "--concurrency", str(concurrency), "--loglevel", "INFO")


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
