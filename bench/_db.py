"""The database a bench runs in, and the branch it measures.

Each bench has a database of its own on the configured (``DATABASE_URL``) or embedded
PostgreSQL, created afresh before Django is set up and dropped at the end, so a bench never
touches the development data and a bench that crashed leaves nothing another run trips on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


def bench_database_create(name: str) -> None:
    """Create the database ``name`` (dropping a leftover one) beside the configured one, and point
    ``DATABASE_URL`` at it. Called before ``django.setup()``; child processes inherit it."""
    import psycopg

    from config import embedded

    base_url = os.environ.get("DATABASE_URL") or embedded.postgres_url()
    server_url, _, _ = base_url.rpartition("/")
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{server_url}/{name}"
    # The invitation tasks an onboarding queues go to a Redis database nobody consumes.
    os.environ.setdefault("REDIS_URL", embedded.redis_url(db=9))


def bench_redis_database(db: int) -> None:
    """Point ``REDIS_URL`` at database ``db`` of the configured (``REDIS_URL``) or embedded Redis,
    for a bench that runs workers of its own: neither a running ``up`` nor another bench then
    takes its tasks, nor it theirs. Called before ``bench_database_create``."""
    from urllib.parse import urlsplit, urlunsplit

    from config import embedded

    base_url = os.environ.get("REDIS_URL") or embedded.redis_url()
    os.environ["REDIS_URL"] = urlunsplit(urlsplit(base_url)._replace(path=f"/{db}"))


def bench_database_drop(name: str) -> None:
    """Close Django's connections and drop the database ``bench_database_create`` made."""
    import psycopg
    from django.db import connections

    connections.close_all()
    server_url, _, _ = os.environ["DATABASE_URL"].rpartition("/")
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Branch:
    hospital: Any
    host: str
    admin: Any
    receptionist: Any
    doctor: Any


def branch_onboard(slug: str) -> Branch:
    """One branch by the real service, its first admin, a receptionist and a doctor."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import Role
    from accounts.services import staff_invite
    from tenants.services import hospital_onboard

    onboarded = hospital_onboard(
        group_name="Bench",
        name="Bench Hospital",
        slug=slug,
        country="GB",
        time_zone="Europe/London",
        admin_email=f"admin@{slug}.bench",
        admin_name="Ada Admin",
    )
    hospital, admin = onboarded.hospital, onboarded.admin
    with schema_context(hospital.schema_name):
        connection.set_tenant(hospital)
        receptionist = staff_invite(
            email=f"desk@{slug}.bench", role=Role.RECEPTIONIST, full_name="Rita Desk", invited_by=admin
        )
        doctor = staff_invite(
            email=f"doctor@{slug}.bench", role=Role.DOCTOR, full_name="Dr Dana Busy", invited_by=admin
        )
    host = hospital.domains.get(is_primary=True).domain
    return Branch(hospital=hospital, host=host, admin=admin, receptionist=receptionist, doctor=doctor)
