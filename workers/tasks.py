"""Platform-wide tasks: the beat fan-out over ready branches."""

from __future__ import annotations

import logging

from django.conf import settings
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from workers.base import PlatformTask
from workers.celery import app

logger = logging.getLogger(__name__)


@app.task(base=PlatformTask, name="workers.fan_out")
def fan_out(task_name: str, spread_seconds: int | None = None) -> int:
    """Send ``task_name`` to every ready branch, staggered over ``spread_seconds``.

    Staggering keeps a thousand branches from hitting the database in the same second. The
    countdowns stay far below the broker's visibility timeout.
    """
    spread = settings.BRANCH_FAN_OUT_SPREAD if spread_seconds is None else spread_seconds
    schemas = list(
        get_tenant_model()
        .objects.filter(ready=True)
        .exclude(schema_name=get_public_schema_name())
        .order_by("pk")
        .values_list("schema_name", flat=True)
    )
    for index, schema in enumerate(schemas):
        countdown = spread * index / len(schemas)
        with schema_context(schema):
            app.send_task(task_name, countdown=countdown)
    logger.info("fanned %s out to %d branches over %ss", task_name, len(schemas), spread)
    return len(schemas)
