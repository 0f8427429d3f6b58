"""``migrate`` migrates every schema and then the branch template, so that branches cloned from
it are never missing the newest migrations (django-tenants does not migrate the template)."""

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.schemas_db import template_migrate


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        if options.get("schema_name") or options.get("shared") or options.get("app_label"):
            return
        if options.get("verbosity", 1):
            self.stdout.write("Migrating the branch template...")
        template_migrate(verbosity=options.get("verbosity", 1))
