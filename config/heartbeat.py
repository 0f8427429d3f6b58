"""Heartbeat files: a process that answers no request (beat, the outbox relay) touches its file
while it works, and its container's liveness probe checks the file's age, so that a hung
process is restarted rather than left silent.

The probe runs without Django: ``python -m config.heartbeat relay 120`` exits 0 when the relay
touched its file in the last 120 seconds, 1 otherwise (with the reason).
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


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].isdigit():
        print("usage: python -m config.heartbeat NAME MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    name, limit = argv[1], int(argv[2])
    seconds = age(name)
    if seconds is None:
        print(f"{name}: no heartbeat yet in {directory()}", file=sys.stderr)
        return 1
    if seconds > limit:
        print(f"{name}: last heartbeat {seconds:.0f} s ago (limit {limit} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
