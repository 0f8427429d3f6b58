"""Check every branch's audit trail for edited, removed or inserted rows (a cron job, or by hand
after a restore)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from clinical.audit import audit_chain_verify
from clinical.models import AuditEvent
from tenants.models import Hospital


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail of every ready branch (or of one)."

    def add_arguments(self, parser):
        parser.add_argument("--branch", metavar="SLUG", help="Only this branch.")

    def handle(self, *args, branch: str | None = None, **options):
        hospitals = Hospital.objects.filter(ready=True).order_by("slug")
        if branch:
            hospitals = hospitals.filter(slug=branch)
            if not hospitals.exists():
                raise CommandError(f"no ready branch has the slug {branch!r}")
        broken = 0
        for hospital in hospitals:
            with schema_context(hospital.schema_name):
                breaks = list(audit_chain_verify())
                count = AuditEvent.objects.count()
            for chain_break in breaks:
                self.stderr.write(f"{hospital.slug}: event {chain_break.event_id} {chain_break.reason}")
            if breaks:
                broken += 1
            else:
                self.stdout.write(f"{hospital.slug}: {count} events, chain intact")
        if broken:
            raise CommandError(f"the audit chain is broken in {broken} branch(es)")
