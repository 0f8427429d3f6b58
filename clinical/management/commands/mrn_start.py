"""Continue a branch's MRNs where a previous system stopped."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import schema_context

from clinical.services import mrn_sequence_start
from core.errors import DomainError
from tenants.models import Hospital


class Command(BaseCommand):
    help = "Set the number of a branch's next MRN (never below a number already issued)."

    def add_arguments(self, parser):
        parser.add_argument("branch", help="the branch's slug")
        parser.add_argument("next_number", type=int, help="the number the next registered patient gets")

    def handle(self, *args, branch: str, next_number: int, **options):
        hospital = Hospital.objects.filter(slug=branch, ready=True).first()
        if hospital is None:
            raise CommandError(f"no ready branch {branch!r}")
        with schema_context(hospital.schema_name):
            connection.set_tenant(hospital)
            try:
                mrn_sequence_start(next_number=next_number)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"{branch}: the next MRN is {hospital.mrn_prefix}{next_number:06d}")
