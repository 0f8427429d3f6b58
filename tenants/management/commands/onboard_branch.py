from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tenants.services import hospital_onboard


class Command(BaseCommand):
    help = "Onboard a hospital branch: its schema, host name, roles and first hospital admin."

    def add_arguments(self, parser):
        parser.add_argument("--group", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="Host label: <slug>.<BASE_DOMAIN>")
        parser.add_argument("--country", required=True, help="ISO 3166 code, e.g. GB")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--languages", default="en", help="Comma-separated, the default first")
        parser.add_argument("--mrn-prefix", default="")

    def handle(self, *args, **o):
        self.stdout.write(f"Onboarding {o['slug']}...")
        try:
            onboarded = hospital_onboard(
                group_name=o["group"],
                name=o["name"],
                slug=o["slug"],
                country=o["country"],
                time_zone=o["time_zone"],
                admin_email=o["admin_email"],
                admin_name=o["admin_name"],
                languages=[x.strip() for x in o["languages"].split(",") if x.strip()],
                mrn_prefix=o["mrn_prefix"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from exc
        hospital = onboarded.hospital
        self.stdout.write(
            self.style.SUCCESS(
                f"Branch {hospital.name} is ready at {hospital.get_primary_domain().domain} "
                f"(schema {hospital.schema_name}, made by {onboarded.schema_method})."
            )
        )
        self.stdout.write(
            f"The hospital admin ({onboarded.admin.email}) sets a password here:\n  {onboarded.set_password_link}"
        )
