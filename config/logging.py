"""Log context: every line names the branch and the request, never patient data."""

from __future__ import annotations

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def current_branch() -> str:
    from django.db import connection

    return getattr(connection, "schema_name", None) or "-"


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "branch"):
            try:
                record.branch = current_branch()
            except Exception:  # settings not configured yet (early start-up)
                record.branch = "-"
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
