from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from redis import Redis
from tenant_schemas_celery.app import CeleryApp

from config.embedded import free_port, stop_process, valkey_process


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
