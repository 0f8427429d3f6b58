"""Heartbeat files: a process that answers no request (beat, the outbox relay) touches its file
while it works, and its container's liveness probe checks the file's age, so that a hung
process is restarted rather than left silent.

The probe runs without Django: ``python -m config.heartbeat relay 120`` exits 0 when the relay
touched its file in the last 120 seconds, 1 otherwise (with the reason). A Celery worker touches
its file from its own timer, which stands still while the broker is away; with
``--unless-broker-down`` a stale file still passes when the broker does not answer either,
since restarting the worker would not bring the broker back (it reconnects by itself).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def directory() -> Path:
    """``HEARTBEAT_DIR`` (a writable volume in a container), else under the local data folder."""
    configured = os.environ.get("HEARTBEAT_DIR")
    if configured:
        return Path(configured)
    from config.embedded import LOCAL

    return LOCAL / "heartbeats"


def beat(name: str) -> None:
    """Say that ``name`` is alive. Never raises: a full disk must not stop the work itself."""
    path = directory() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as exc:
        logger.warning("could not touch the heartbeat file %s: %s", path, exc)


def age(name: str) -> float | None:
    """Seconds since ``name`` last said it was alive, or None if it never did."""
    try:
        return time.time() - (directory() / name).stat().st_mtime
    except FileNotFoundError:
        return None


def broker_answers() -> bool:
    """Whether the broker (REDIS_URL, or the file REDIS_URL_FILE names) answers a ping."""
    from redis import Redis

    from config import env

    try:
        url = env.get("REDIS_URL")
    except Exception as exc:  # REDIS_URL_FILE names a file that cannot be read
        print(f"cannot read the broker's address: {exc}", file=sys.stderr)
        return False
    if not url:
        return True  # nothing to ask: judge by the heartbeat alone
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping())
    except Exception:
        return False


def main(argv: list[str]) -> int:
    arguments = [argument for argument in argv[1:] if argument != "--unless-broker-down"]
    if len(arguments) != 2 or not arguments[1].isdigit():
        print("usage: python -m config.heartbeat NAME MAX_AGE_SECONDS [--unless-broker-down]", file=sys.stderr)
        return 2
    name, limit = arguments[0], int(arguments[1])
    seconds = age(name)
    if seconds is not None and seconds <= limit:
        return 0
    if "--unless-broker-down" in argv and not broker_answers():
        print(f"{name}: no fresh heartbeat, but the broker does not answer: not restarting", file=sys.stderr)
        return 0
    if seconds is None:
        print(f"{name}: no heartbeat yet in {directory()}", file=sys.stderr)
    else:
        print(f"{name}: last heartbeat {seconds:.0f} s ago (limit {limit} s)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
