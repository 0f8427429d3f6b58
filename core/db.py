"""django-tenants' connection, typed: it adds the schema to Django's, which the stubs do not know."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.conf import settings
from django.db import connection


def tenant_connection() -> Any:
    return cast(Any, connection)


def current_schema() -> str:
    """The schema the connection is in: a branch's, or "public"."""
    return str(tenant_connection().schema_name)


@contextmanager
def advisory_lock_held(*key: int) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on a connection of its own for the block.

    Django's connection is no place for a lock that must outlive a transaction: django-tenants'
    migration runner commits and closes it, which would release the lock midway.
    """
    import psycopg

    db: dict[str, Any] = settings.DATABASES["default"]
    options = {
        k: v
        for k, v in (db.get("OPTIONS") or {}).items()
        if k in {"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"}
    }
    with psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
        **options,
    ) as lock_connection:
        placeholders = ", ".join(["%s"] * len(key))
        lock_connection.execute(f"SELECT pg_advisory_lock({placeholders})", key)
        try:
            yield
        finally:
            lock_connection.execute(f"SELECT pg_advisory_unlock({placeholders})", key)
