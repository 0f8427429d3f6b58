"""Settings from the environment, the production profile, and what keeps branches apart."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context

from config import env
from config.logging import ContextFilter, request_id_var
from config.settings import password_hashers
from tests.conftest import worker_env


def _manage(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=worker_env(extra_env),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "HOSPITAL_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "BASE_DOMAIN": "example.health",
    "EMAIL_HOST": "smtp.example.health",
}


def test_check_deploy_is_clean_in_production(db):
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(db):
    result = _manage(["check"], {**PRODUCTION, "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_production_refuses_the_demo_seed(db, settings):
    from tenants.demo import demo_seed

    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="refused in production"):
        demo_seed()


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))

    assert env.get("SECRET_KEY") == "from-a-file"


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        env.get("SECRET_KEY")


def test_passwords_are_hashed_with_argon2_outside_tests():
    assert password_hashers("production")[0].endswith("Argon2PasswordHasher")
    assert password_hashers("local")[0].endswith("Argon2PasswordHasher")


def test_cache_keys_are_per_branch(stmarys, riverside):
    with schema_context(stmarys.schema):
        cache.set("greeting", "hello from stmarys", 30)
    with schema_context(riverside.schema):
        assert cache.get("greeting") is None
    with schema_context(stmarys.schema):
        assert cache.get("greeting") == "hello from stmarys"
        cache.delete("greeting")


def test_files_are_stored_per_branch(stmarys, riverside):
    with schema_context(stmarys.schema):
        name = default_storage.save("letters/note.txt", ContentFile(b"stmarys only"))
        path = default_storage.path(name)
    with schema_context(riverside.schema):
        assert not default_storage.exists(name)
        assert default_storage.path(name) != path
    with schema_context(stmarys.schema):
        assert default_storage.open(name).read() == b"stmarys only"
        default_storage.delete(name)
    assert "/stmarys/" in path


def test_log_lines_carry_the_branch_and_the_request_id_as_json(stmarys):
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(branch)s %(request_id)s")
    record = logging.LogRecord("clinical", logging.INFO, __file__, 1, "booked", None, None)
    token = request_id_var.set("req-12345678")
    try:
        with schema_context(stmarys.schema):
            ContextFilter().filter(record)
    finally:
        request_id_var.reset(token)

    line = json.loads(formatter.format(record))
    assert line["branch"] == "stmarys"
    assert line["request_id"] == "req-12345678"
    assert line["message"] == "booked"


def test_each_response_names_its_request_id(stmarys):
    client = stmarys.api()

    generated = client.get("/api/openapi.json")
    passed_on = client.get("/api/openapi.json", HTTP_X_REQUEST_ID="ingress-abcdef12")
    hostile = client.get("/api/openapi.json", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert len(generated["X-Request-ID"]) == 32
    assert passed_on["X-Request-ID"] == "ingress-abcdef12"
    assert hostile["X-Request-ID"] != "bad id\nwith newline"


def test_production_logs_are_json(db):
    result = _manage(["shell", "-c", "import logging; logging.getLogger('probe').warning('hello')"], PRODUCTION)

    line = next(line for line in result.stderr.splitlines() if "hello" in line)
    assert json.loads(line)["message"] == "hello"
    assert json.loads(line)["branch"] == "public"


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://r:6379/0", "redis://r:6379/1"),
        ("redis://r:6379", "redis://r:6379/1"),
        ("rediss://:secret@r:6380/2?ssl_cert_reqs=required", "rediss://:secret@r:6380/3?ssl_cert_reqs=required"),
    ],
)
def test_the_cache_gets_the_next_redis_database(broker, cache):
    from config.settings import _next_database

    assert _next_database(broker) == cache


def test_a_last_redis_database_asks_for_a_cache_url():
    from config.settings import _next_database

    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        _next_database("redis://r:6379/15")


def test_an_unknown_country_in_allowed_countries_stops_the_start(db):
    result = _manage(["check"], {"ALLOWED_COUNTRIES": "GB,XX"})

    assert result.returncode != 0
    assert "ALLOWED_COUNTRIES names unknown country codes: XX" in result.stderr
