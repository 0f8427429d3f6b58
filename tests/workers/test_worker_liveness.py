"""A worker's liveness probe (``python -m config.heartbeat worker-default SECONDS
--unless-broker-down``, as the chart and the compose file run it): it passes while the worker
works, still passes while the broker is away (a restart would not bring the broker back; the
worker reconnects by itself), and fails when the worker is stuck with the broker up."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings

from config.embedded import stop_process
from config.processes import default_worker_command
from tests.conftest import _wait_for_worker, worker_env

pytestmark = pytest.mark.worker

LIMIT = "15"  # the worker touches its file every 10 s


def _probe(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "config.heartbeat", "worker-default", LIMIT, *flags],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_liveness_probe_follows_the_worker_not_the_broker(committed, spare_redis, tmp_path):
    env = worker_env({"REDIS_URL": spare_redis.url, "HEARTBEAT_DIR": str(tmp_path / "heartbeats")})
    log = tmp_path / "worker.log"
    with open(log, "w") as handle:
        worker = subprocess.Popen(
            default_worker_command(concurrency=1),
            env=env,
            cwd=settings.BASE_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_worker(worker, log)
        assert _probe(env, "--unless-broker-down").returncode == 0

        spare_redis.stop()
        time.sleep(int(LIMIT) + 12)
        stale = _probe(env)
        assert stale.returncode == 1, "the worker's timer stands still while the broker is away"
        waiting = _probe(env, "--unless-broker-down")
        assert waiting.returncode == 0
        assert "the broker does not answer" in waiting.stderr

        spare_redis.start()
        deadline = time.monotonic() + 60
        while _probe(env).returncode != 0:
            assert time.monotonic() < deadline, f"no heartbeat after the broker came back:\n{log.read_text()[-2000:]}"
            time.sleep(2)

        worker.send_signal(signal.SIGSTOP)  # stuck, with the broker up: restart it
        time.sleep(int(LIMIT) + 2)
        stuck = _probe(env, "--unless-broker-down")
        assert stuck.returncode == 1
        assert "last heartbeat" in stuck.stderr
    finally:
        worker.send_signal(signal.SIGCONT)
        stop_process(worker)
