"""`manage.py up` on a machine with nothing set up: it starts, serves the demo, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from config import heartbeat
from config.embedded import free_port
from config.processes import process_commands

pytestmark = pytest.mark.slow


class Up:
    def __init__(self, local_dir: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.output: list[str] = []
        child_env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "HOSPITAL_ENV", "DJANGO_SETTINGS_MODULE"}
        }
        child_env.update({"HOSPITAL_LOCAL_DIR": str(local_dir), "HOSPITAL_ENV": "local", "PYTHONUNBUFFERED": "1"})
        child_env.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(self.port)],
            cwd=settings.BASE_DIR,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, needle: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert self.process.poll() is None, f"up exited early:\n{self.text[-4000:]}"
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout}s:\n{self.text[-4000:]}"
            time.sleep(0.2)

    def get(self, host: str, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", headers={"Host": f"{host}:{self.port}"}, timeout=10)

    def post(self, host: str, path: str, json: dict) -> httpx.Response:
        return httpx.post(
            f"http://127.0.0.1:{self.port}{path}", json=json, headers={"Host": f"{host}:{self.port}"}, timeout=10
        )

    def children(self) -> list[list[str]]:
        """The command lines of the processes ``up`` started."""
        lines = []
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(status.read_text().rsplit(")", 1)[1].split()[1])
                if parent == self.process.pid:
                    lines.append(status.with_name("cmdline").read_bytes().decode().split("\0")[:-1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
        return lines

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


def _running(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def test_up_runs_the_demo_and_keeps_its_data(tmp_path):
    local = tmp_path / "local"

    # first run: servers started, schemas migrated, demo seeded, everything served
    first = Up(local)
    try:
        first.wait_for("Press Ctrl-C to stop.")
        assert "starting PostgreSQL" in first.text
        assert "starting Redis" in first.text
        assert "onboarding the demo branch stmarys" in first.text
        assert "admin@stmarys.demo" in first.text
        assert first.get("stmarys.localhost", "/accounts/login/").status_code == 200
        # the processes are the platform's one list (config.processes), as the image runs them
        expected = process_commands(bind=f"127.0.0.1:{first.port}")
        expected["beat"][expected["beat"].index("--schedule") + 1] = str(local / "celerybeat-schedule")
        started = first.children()
        for name, command in expected.items():
            # a script runs as "<python> <script> <arguments>"
            assert any(line[-len(command) :] == command or line[1:] == command for line in started), (name, started)
        # beat and the relay keep their heartbeats, which their containers' liveness probes read
        os.environ["HEARTBEAT_DIR"] = str(local / "heartbeats")
        try:
            deadline = time.monotonic() + 30
            while heartbeat.main(["", "beat", "60"]) or heartbeat.main(["", "relay", "60"]):
                assert time.monotonic() < deadline, "no heartbeat from beat or the relay"
                time.sleep(0.5)
        finally:
            del os.environ["HEARTBEAT_DIR"]
        assert first.get("riverside.localhost", "/readyz").json()["broker"] == "ok"
        token = first.post(
            "stmarys.localhost", "/api/auth/token/", {"username": "doctor@stmarys.demo", "password": "demo-pass-2026"}
        )
        assert token.status_code == 200
        assert token.json()["role"] == "doctor"
        # the demo's morning queue: the doctor's patients with tokens, one seen, one with the doctor
        as_doctor = {"Host": f"stmarys.localhost:{first.port}", "Authorization": f"Bearer {token.json()['access']}"}
        me = httpx.get(f"http://127.0.0.1:{first.port}/api/auth/me/", headers=as_doctor, timeout=10).json()
        queue = httpx.get(
            f"http://127.0.0.1:{first.port}/api/queue/", params={"doctor": me["id"]}, headers=as_doctor, timeout=10
        ).json()
        assert [entry["state"] for entry in queue["finished"]] == ["done"]
        assert [entry["state"] for entry in queue["current"]] == ["with_doctor"]
        assert queue["waiting"]
        # the demo's patient account: a parent with her own record and her daughter's
        patient = first.post(
            "stmarys.localhost", "/api/auth/token/", {"username": "patient@stmarys.demo", "password": "demo-pass-2026"}
        )
        me = httpx.get(
            f"http://127.0.0.1:{first.port}/api/portal/me/",
            headers={"Host": f"stmarys.localhost:{first.port}", "Authorization": f"Bearer {patient.json()['access']}"},
            timeout=10,
        )
        assert [(p["full_name"], p["relationship"]) for p in me.json()["patients"]] == [
            ("Amelia Hart", "self"),
            ("Lily Hart", "parent"),
        ]
    finally:
        assert first.stop() == 0
    assert "All stopped." in first.text
    assert first.text.index("Stopping web") < first.text.index("stopping PostgreSQL")
    assert not _running(local / "postgres" / "postmaster.pid")
    assert not _running(local / "redis" / "server.addr")

    # second run: the same data, no second demo
    second = Up(local)
    try:
        second.wait_for("Press Ctrl-C to stop.")
        assert "the demo seed is not needed" in second.text
        token = second.post(
            "riverside.localhost",
            "/api/auth/token/",
            {"username": "admin@riverside.demo", "password": "demo-pass-2026"},
        )
        assert token.status_code == 200
    finally:
        assert second.stop() == 0


def test_up_uses_the_servers_the_environment_names(tmp_path, django_db_setup, django_db_blocker):
    from tests.conftest import worker_env

    with django_db_blocker.unblock():
        env = worker_env()
    up = Up(tmp_path / "unused", {"DATABASE_URL": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"]})
    try:
        up.wait_for("Press Ctrl-C to stop.")
        assert "[embedded]" not in up.text
        assert up.get("stmarys.localhost", "/readyz").status_code == 200
    finally:
        assert up.stop() == 0
    assert not (tmp_path / "unused" / "postgres").exists()
