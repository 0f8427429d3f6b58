from datetime import timedelta

from django.core.management.base import BaseCommand

from tenants.services import branches_reap


class Command(BaseCommand):
    help = "Remove branches that a crash left half-made (not ready after some minutes)."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10, help="Only branches older than this.")

    def handle(self, *args, minutes, **options):
        removed = branches_reap(older_than=timedelta(minutes=minutes))
        self.stdout.write(f"removed {len(removed)} half-made branch(es){': ' + ', '.join(removed) if removed else ''}")
