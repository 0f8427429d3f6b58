"""django-tenants' connection, typed: it adds the schema to Django's, which the stubs do not know."""

from __future__ import annotations

from typing import Any, cast

from django.db import connection


def tenant_connection() -> Any:
    return cast(Any, connection)


def current_schema() -> str:
    """The schema the connection is in: a branch's, or "public"."""
    return str(tenant_connection().schema_name)
