"""Real-browser tests: Debian's Chromium driven by Playwright against a real web server.

The server is gunicorn on the test database, like `up` runs it; Chromium resolves every
*.localhost name to loopback, so each branch is reached at its own host name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.embedded import free_port, stop_process, wait_for_port
from tests.conftest import worker_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between page actions are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(skip)


def _serve(django_db_blocker, tmp_path_factory, extra_env: dict[str, str]):
    port = free_port()
    with django_db_blocker.unblock():
        env = worker_env({"SITE_PORT": str(port), **extra_env})
    log = tmp_path_factory.mktemp("web") / "web.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, process, log, "the web server")
    yield port
    stop_process(process)


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker, tmp_path_factory):
    yield from _serve(django_db_blocker, tmp_path_factory, {})


@pytest.fixture(scope="session")
def impatient_web_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Sessions end after one idle minute: the warning shows at once."""
    yield from _serve(django_db_blocker, tmp_path_factory, {"SESSION_IDLE_MINUTES": "1"})


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def url(web_server):
    def at(slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{web_server}{path}"

    return at


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
