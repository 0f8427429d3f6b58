"""The branch a request or task is running in, with all of its settings."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_tenants.utils import get_tenant_model

from core.db import tenant_connection

logger = logging.getLogger(__name__)


def branch_current() -> Any:
    """The real branch row of the connection's schema.

    ``schema_context()`` leaves a FakeTenant without the branch's fields (country, time zone,
    prefixes): load the row then. Raises LookupError in the public schema.
    """
    tenant = getattr(tenant_connection(), "tenant", None)
    if tenant is not None and getattr(tenant, "pk", None) is not None:
        return tenant
    schema = tenant_connection().schema_name
    branch = get_tenant_model().objects.filter(schema_name=schema).first()
    if branch is None:
        raise LookupError(f"no branch has the schema {schema!r}")
    return branch


def branch_zone() -> ZoneInfo:
    """The branch's time zone; UTC if the branch's setting is not a zone (a typing mistake by the
    operator must not take the branch down), with a warning in the log."""
    name = branch_current().time_zone or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("the branch's time zone %r is unknown; using UTC", name)
        return ZoneInfo("UTC")


def branch_today() -> dt.date:
    return dt.datetime.now(branch_zone()).date()


def branch_moment(day: dt.date, at: dt.time, zone: ZoneInfo | None = None) -> dt.datetime:
    """A wall-clock time of the branch as an instant, in UTC: add durations to it and compare
    it safely (Python adds to and compares datetimes of one zone by their wall clocks, which is
    wrong across a clock change). A time the clocks skip (spring) is read with the offset before
    the change, landing just past the gap as a wall clock would; a time that happens twice
    (autumn) is its first occurrence."""
    local = dt.datetime.combine(day, at).replace(tzinfo=zone or branch_zone())
    return local.astimezone(dt.UTC)


def branch_day_start(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in the branch's time zone: days as ranges an index can serve."""
    return branch_moment(day, dt.time.min)
