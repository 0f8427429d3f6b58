"""``manage.py export_branch <slug> [--output FILE]``: one branch's schema and files in one archive."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.errors import DomainError
from tenants.backup import branch_export


class Command(BaseCommand):
    help = "Write one branch's schema (pg_dump) and stored files to one .tar.gz archive."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--output", help="The archive to write (default: <slug>-<time>.tar.gz here).")

    def handle(self, *args, slug: str, output: str | None, **options) -> None:
        target = Path(output or f"{slug}-{timezone.now():%Y%m%d-%H%M%S}.tar.gz")
        try:
            branch_export(slug=slug, output=target)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"wrote {target}")
