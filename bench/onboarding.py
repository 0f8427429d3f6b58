"""How fast a branch is onboarded: cloned from the template versus replaying every migration.

    uv run python bench/onboarding.py [--n 5]

Runs in a database of its own (created and dropped here) on the configured or embedded
PostgreSQL. Both paths run the whole onboarding service (schema, roles, first admin, ready
flag); the migration path is the real fallback, taken because the template is moved aside.
Prints the median seconds per branch for each, then their ratio as `ratio: N`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This folder comes first on the path of a script run from it, and bench/queue.py would then be
# the standard library's ``queue`` for whatever imports it (psycopg, concurrent.futures).
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HOSPITAL_ENV", "local")

BENCH_DB = "hospital_bench"


def _onboard_many(prefix: str, n: int) -> tuple[list[float], set[str]]:
    from tenants.services import hospital_onboard

    seconds, methods = [], set()
    for i in range(n):
        slug = f"{prefix}{i}"
        started = time.perf_counter()
        result = hospital_onboard(
            group_name="Bench",
            name=f"Bench {slug}",
            slug=slug,
            country="GB",
            time_zone="Europe/London",
            admin_email=f"admin@{slug}.bench",
        )
        seconds.append(time.perf_counter() - started)
        methods.add(result.schema_method)
        print(f"  {slug}: {seconds[-1]:.3f} s ({result.schema_method})", flush=True)
    return seconds, methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="branches per path")
    n = parser.parse_args().n

    from bench._db import bench_database_create, bench_database_drop

    bench_database_create(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tenants.schemas_db import template_schema_name

    try:
        print("migrating the bench database and the template...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)

        print(f"fast path: {n} branches cloned from the template", flush=True)
        clone_seconds, clone_methods = _onboard_many("clone", n)

        print(f"slow path: {n} branches by replaying migrations (template moved aside)", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA "{template_schema_name()}" RENAME TO template_aside')
        migrate_seconds, migrate_methods = _onboard_many("migrated", n)
        if clone_methods != {"clone"} or migrate_methods != {"migrate"}:
            raise SystemExit(f"a path was not the one measured: {clone_methods}, {migrate_methods}")
    finally:
        bench_database_drop(BENCH_DB)

    clone_median = statistics.median(clone_seconds)
    migrate_median = statistics.median(migrate_seconds)
    print(f"clone: median {clone_median:.3f} s per branch (n={n})")
    print(f"migrate: median {migrate_median:.3f} s per branch (n={n})")
    print(f"ratio: {migrate_median / clone_median:.1f}")


if __name__ == "__main__":
    main()
