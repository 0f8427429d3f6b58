"""``manage.py run_process <name>``: become one of the platform's processes (config.processes).

The container image's entry point: the compose file and the Helm chart name a process, and get
the same command, flags included, that ``manage.py up`` runs on a laptop. The process replaces
this one (exec), so it receives the container's signals itself.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.processes import process_commands


class Command(BaseCommand):
    help = "Run one of the platform's processes in place of this one: web, worker, pdf-worker, beat or relay."

    def add_arguments(self, parser):
        parser.add_argument("name", help="web, worker, pdf-worker, beat or relay")
        parser.add_argument(
            "--print", action="store_true", dest="print_only", help="Print the command instead of running it."
        )

    def handle(self, *args, name: str, print_only: bool, **options):
        try:
            commands = process_commands()
        except ValueError as exc:  # a size variable that is not a number
            raise CommandError(str(exc)) from exc
        if name not in commands:
            raise CommandError(f"no process named {name!r}: choose one of {', '.join(commands)}")
        command = commands[name]
        if print_only:
            self.stdout.write(" ".join(command))
            return
        os.chdir(settings.BASE_DIR)  # gunicorn imports config.wsgi from the working folder
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)  # noqa: S606 - a fixed command from config.processes
