"""Platform-wide tasks: the beat fan-out over ready branches."""

from __future__ import annotations

import logging

from celery import Celery
from django.conf import settings
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from workers.base import PlatformTask
from workers.celery import app

logger = logging.getLogger(__name__)


def branches_fan_out(task_name: str, *, spread_seconds: float, celery_app: Celery = app) -> int:
    """Send ``task_name`` to every ready branch, staggered over ``spread_seconds``.

    Staggering keeps a thousand branches from hitting the database in the same second; the
    countdowns stay far below the broker's visibility timeout. Branches still being made are
    skipped. Returns how many branches were sent the task.
    """
    schemas = list(
        get_tenant_model()
        .objects.filter(ready=True)
        .exclude(schema_name=get_public_schema_name())
        .order_by("pk")
        .values_list("schema_name", flat=True)
    )
    for index, schema in enumerate(schemas):
        with schema_context(schema):
            celery_app.send_task(task_name, countdown=spread_seconds * index / len(schemas))
    logger.info("fanned %s out to %d branches over %ss", task_name, len(schemas), spread_seconds)
    return len(schemas)


@app.task(base=PlatformTask, name="workers.fan_out")
def fan_out(task_name: str) -> int:
    return branches_fan_out(task_name, spread_seconds=settings.BRANCH_FAN_OUT_SPREAD)
