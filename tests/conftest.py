"""Shared fixtures: two branches made once per session, one user per role in each.

The branches are onboarded by the real service (the clone path) when the test database is set
up, and committed; each test then runs in a transaction that is rolled back. Tests that need
committed data (a real worker, a real browser) make it through ``committed`` and clean it up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from redis import Redis
from tenant_schemas_celery.app import CeleryApp

from accounts.models import Role, User
from accounts.tokens import tokens_issue
from config.embedded import free_port, stop_process, valkey_process
from tenants.models import Hospital

PASSWORD = "correct-horse-battery-staple"
BRANCH_SPECS = {
    "stmarys": {"name": "St Mary's Hospital", "country": "GB", "time_zone": "Europe/London", "languages": ["en", "ar"]},
    "riverside": {"name": "Riverside Clinic", "country": "IN", "time_zone": "Asia/Kolkata", "languages": ["en", "hi"]},
}
# Created in the same order in both branches, so the same ids name different people in each:
# exactly what a token or session must not confuse.
ROLES = [Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST, Role.PATIENT]


def host_of(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def email_of(role: str, slug: str) -> str:
    return f"{role.replace('_', '-')}@{slug}.test"


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """The test database, always: pytest-django would skip it when no test asks for ``db``
    (tests that use ``committed`` or a worker do not), and they would then reach the
    development database."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.services import hospital_onboard

    # Files the tests' branches store (PDFs, logos) start from nothing and go with the database.
    _test_media_empty()
    with django_db_blocker.unblock():
        db_config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
        for slug, spec in BRANCH_SPECS.items():
            onboarded = hospital_onboard(
                group_name="Test Group", slug=slug, admin_email=email_of(Role.HOSPITAL_ADMIN, slug), **spec
            )
            with schema_context(onboarded.hospital.schema_name):
                for role in ROLES:
                    user = User.objects.filter(email=email_of(role, slug)).first() or User(
                        username=email_of(role, slug), email=email_of(role, slug), role=role
                    )
                    user.full_name = f"{role.label} of {slug}"
                    user.set_password(PASSWORD)
                    user.save()
    yield
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        # A worker or web server of a test may close its connection a moment after it exits.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(db_config, verbosity=0)
    _test_media_empty()


def _test_media_empty() -> None:
    """Empty the tests' media folder; a MEDIA_ROOT set from outside (real files) is left alone."""
    if Path(settings.MEDIA_ROOT).name == "test-media":
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@dataclass
class Branch:
    hospital: Hospital
    slug: str

    @property
    def host(self) -> str:
        return host_of(self.slug)

    @property
    def schema(self) -> str:
        return self.hospital.schema_name

    def user(self, role: str) -> User:
        with schema_context(self.schema):
            return User.objects.get(email=email_of(role, self.slug))

    def client(self, user: User | None = None) -> Client:
        client = Client(HTTP_HOST=self.host)
        if user is not None:
            with schema_context(self.schema):
                client.force_login(user, backend="accounts.backends.UsernameOrEmailBackend")
        return client

    def token(self, user: User) -> str:
        with schema_context(self.schema):
            connection.set_tenant(self.hospital)
            return tokens_issue(user=user).access

    def api(self, user: User | None = None) -> Client:
        """A client for this branch's API, signed in with a token when a user is given."""
        headers = {"HTTP_HOST": self.host}
        if user is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token(user)}"
        return Client(**headers)


@pytest.fixture
def ten_oclock():
    """St Mary's today at 10:00 for the test's process, whatever the real time (time-machine,
    ticking on): visits made "around now" and checked in "today" never cross midnight, so a test
    of the day's queue runs alike at any hour. Another process (a browser's server) keeps the
    real clock."""
    zone = ZoneInfo(BRANCH_SPECS["stmarys"]["time_zone"])
    at = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(10), tzinfo=zone)
    with time_machine.travel(at, tick=True):
        yield at


@pytest.fixture(autouse=True)
def _cache_emptied():
    """Each test starts with an empty cache: counts kept there (rate limits) are per user id, and
    ids repeat from test to test as their rows are rolled back."""
    cache.clear()


def _branch(slug: str) -> Branch:
    with schema_context("public"):
        return Branch(hospital=Hospital.objects.get(slug=slug), slug=slug)


@pytest.fixture
def stmarys(db) -> Branch:
    return _branch("stmarys")


@pytest.fixture
def riverside(db) -> Branch:
    return _branch("riverside")


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Database access outside a test transaction: what a worker process or browser can see.

    Whatever the test registers with ``committed.cleanup(fn)`` runs afterwards.
    """

    class Committed:
        def __init__(self):
            self._cleanups = []

        def cleanup(self, fn):
            self._cleanups.append(fn)

        def branch(self, slug: str) -> Branch:
            return _branch(slug)

    helper = Committed()
    with django_db_blocker.unblock():
        yield helper
        for fn in reversed(helper._cleanups):
            fn()
        connection.set_schema_to_public()


# --- a real Celery worker ---------------------------------------------------------------------


@dataclass
class Worker:
    mail_dir: Path
    process: subprocess.Popen

    def mails(self) -> list[str]:
        return [p.read_text() for p in sorted(self.mail_dir.glob("*.log"))]

    def wait_for_mail(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.mails():
                if needle in text:
                    return text
            assert self.process.poll() is None, "the worker died"
            time.sleep(0.2)
        raise AssertionError(f"no e-mail containing {needle!r} arrived within {timeout}s")


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process that must see the test database (not the development one)."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "HOSPITAL_ENV": "test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def worker_start(env: dict[str, str], log: Path, *, queues: str = "default,pdf") -> subprocess.Popen:
    """A real Celery worker with ``env`` (see ``worker_env``), logging to ``log``; returns once it
    is ready to take tasks."""
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery",
                "worker",
                "--queues",
                queues,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait_for_worker(process, log)
    return process


WORKER_APPLICATION_NAME = "hospital-test-worker"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Worker:
    mail_dir = tmp_path_factory.mktemp("mail")
    with django_db_blocker.unblock():
        # Its connections are named (libpq reads PGAPPNAME), so a test can find them.
        env = worker_env({"EMAIL_FILE_PATH": str(mail_dir), "PGAPPNAME": WORKER_APPLICATION_NAME})
    _purge_queue()
    process = worker_start(env, tmp_path_factory.mktemp("worker") / "worker.log")
    yield Worker(mail_dir=mail_dir, process=process)
    stop_process(process)


def _purge_queue() -> None:
    from redis import Redis

    Redis.from_url(settings.REDIS_URL).delete("default", "pdf")


def _wait_for_worker(process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log.read_text():
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")


# --- a Redis of a test's own ------------------------------------------------------------------


class SpareRedis:
    """A Redis (Valkey) server of a test's own, to stop and start again on the same port."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = valkey_process(self.directory, self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def queued(self, queue: str = "default") -> list[dict]:
        raw = Redis.from_url(self.url).lrange(queue, 0, -1)
        return [json.loads(item) for item in raw]

    def take_commits(self, monkeypatch) -> None:
        """Send what this process's commits hand to the outbox to this Redis (as a worker
        started with ``REDIS_URL=self.url`` sees it), not to the session's."""
        from workers import outbox

        app = self.celery_app()
        monkeypatch.setattr(outbox, "_relay_quietly", lambda pk: outbox.outbox_relay(ids=[pk], celery_app=app))

    def celery_app(self) -> CeleryApp:
        app = CeleryApp("spare", task_cls="workers.base:BranchTask")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = self.url
        app.conf.broker_connection_retry = False
        app.conf.broker_connection_max_retries = 0
        return app


@pytest.fixture
def spare_redis(tmp_path):
    server = SpareRedis(tmp_path)
    server.start()
    yield server
    server.stop()
