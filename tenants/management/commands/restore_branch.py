"""``manage.py restore_branch <archive> --as <slug>``: an exported branch as a new branch."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tenants.backup import branch_restore


class Command(BaseCommand):
    help = (
        "Restore an archive of export_branch as a new branch (its own schema, host and files), to inspect it "
        "or to replace a branch after an accident; no other branch is touched."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive")
        parser.add_argument("--as", dest="slug", required=True, help="The new branch's slug (and host name).")
        parser.add_argument("--name", default="", help="Its name (default: the old one, marked restored).")

    def handle(self, *args, archive: str, slug: str, name: str, **options) -> None:
        try:
            hospital = branch_restore(archive=Path(archive), slug=slug, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"restored as {hospital.slug}: {hospital.slug}.{settings.BASE_DOMAIN}")
