"""``migrate`` migrates every schema and then the branch template, so that branches cloned from
it are never missing the newest migrations (django-tenants does not migrate the template); then,
with two database roles, grants the application role its rights everywhere (tenants.db_roles)."""

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.db_roles import app_role_grant_everywhere
from tenants.schemas_db import template_migrate


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        if options.get("schema_name") or options.get("shared") or options.get("app_label"):
            return
        if options.get("verbosity", 1):
            self.stdout.write("Migrating the branch template...")
        template_migrate(verbosity=options.get("verbosity", 1))
        granted = app_role_grant_everywhere()
        if granted and options.get("verbosity", 1):
            self.stdout.write(f"Granted the application role its rights in {len(granted)} schemas.")
