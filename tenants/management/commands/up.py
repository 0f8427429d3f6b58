"""``manage.py up``: the whole platform on one machine, with no set-up.

Starts what is missing (PostgreSQL and Redis, when no URL names them: see config.embedded),
migrates every schema and the branch template, seeds the demo when empty, then runs the web
server, one Celery worker on every queue, beat and the outbox relay until Ctrl-C or SIGTERM.
It stops them all, the servers last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config import embedded
from config.processes import process_commands
from tenants.demo import DEMO_PASSWORD, demo_logins, demo_seed


def _lower_priority() -> None:
    os.nice(10)


class Command(BaseCommand):
    help = "Run the whole platform: servers, migrations, demo data, web, worker, beat, outbox relay."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Do not seed the demo group.")

    def handle(self, *args, port: int, no_demo: bool, **options):
        self._children: list[tuple[str, subprocess.Popen]] = []
        self._stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # Links in e-mails and the printed ones name the port the platform is really on, unless
        # SITE_PORT says otherwise (a proxy in front).
        if "SITE_PORT" not in os.environ:
            settings.SITE_PORT = os.environ["SITE_PORT"] = str(port)  # the workers print links too
        try:
            self._prepare(no_demo)
            self._start_children(port)
            self._print_banner(port)
            self._watch()
        except KeyboardInterrupt:
            pass
        finally:
            self._stopping = True
            self._stop_children()
            embedded.stop_started()
            self.stdout.write("All stopped.")

    def _on_signal(self, signum, frame):
        # A second signal (a terminal and a supervisor both sending one) must not cut the shutdown short.
        if not self._stopping:
            self._stopping = True
            raise KeyboardInterrupt

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def _prepare(self, no_demo: bool) -> None:
        self._say("Migrating every schema and the branch template...")
        call_command("migrate", interactive=False, verbosity=0)
        self._say("  migrations are up to date.")
        if not no_demo and not settings.PRODUCTION:
            self._say("Seeding the demo group if the platform is empty...")
            seeded = demo_seed(say=self._say)
            self._say("  demo seeded." if seeded else "  data found; the demo seed is not needed.")

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The children use the servers this process found or started: they start none.
        env["DATABASE_URL"] = settings.DATABASE_URL
        env["REDIS_URL"] = settings.REDIS_URL
        env["HOSPITAL_ENV"] = settings.HOSPITAL_ENV
        env["SITE_PORT"] = settings.SITE_PORT
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _start_children(self, port: int) -> None:
        commands = process_commands(bind=f"127.0.0.1:{port}")
        env = self._child_env()
        for name, command in commands.items():
            self._say(f"Starting {name}...")
            # Own session: Ctrl-C reaches this process, which stops the children in order.
            # The workers, beat and the relay yield the processor to the web server: a burst of
            # PDFs must not make the dashboard wait.
            background = None if name == "web" else _lower_priority
            process = subprocess.Popen(  # noqa: S603
                command, env=env, cwd=settings.BASE_DIR, start_new_session=True, preexec_fn=background
            )
            self._children.append((name, process))
        self._wait_for_web(port)

    def _wait_for_web(self, port: int) -> None:
        """Until the web server answers /healthz: a bound port is not yet a loaded application."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            self._check_children()
            time.sleep(0.2)
        raise CommandError(f"the web server did not answer on port {port}")

    def _print_banner(self, port: int) -> None:
        lines = ["", "The platform is running. Open a branch in your browser:"]
        hosts = sorted({host for host, _u, _r in demo_logins()})
        for host in hosts:
            suffix = "/admin/ (platform operators)" if host == settings.PUBLIC_HOST else "/"
            lines.append(f"  http://{host}:{port}{suffix}")
        lines.append(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for host, username, role in demo_logins():
            lines.append(f"  {host:<24} {username:<26} {role}")
        lines.append(
            f"Servers: database {settings.DATABASES['default']['HOST']}:"
            f"{settings.DATABASES['default']['PORT']}, redis {settings.REDIS_URL}"
        )
        lines.append("Press Ctrl-C to stop.")
        self._say("\n".join(lines))

    def _check_children(self) -> None:
        for name, process in self._children:
            if process.poll() is not None:
                raise CommandError(f"{name} stopped unexpectedly (exit code {process.returncode})")

    def _watch(self) -> None:
        while True:
            self._check_children()
            time.sleep(0.5)

    def _stop_children(self) -> None:
        for name, process in reversed(self._children):
            if process.poll() is None:
                self._say(f"Stopping {name}...")
                process.terminate()
        # All were asked at once (so they stop in parallel); now wait for each, killing stragglers.
        for _name, process in self._children:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
