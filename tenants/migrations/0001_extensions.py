"""PostgreSQL extensions in their own schema, on every branch's search path.

Created here, in a public-schema migration, so that no branch migration installs them into
whichever schema happens to be migrated first (and dropping that schema would take every
branch's trigram indexes and exclusion constraints with it).
"""

from django.db import migrations


def create_extensions(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    schema_editor.execute("CREATE SCHEMA IF NOT EXISTS extensions")
    for extension in ("pg_trgm", "btree_gist", "unaccent", "citext"):
        schema_editor.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA extensions")


class Migration(migrations.Migration):
    # Irreversible on purpose: dropping extensions would drop every branch's objects built on them.
    operations = [migrations.RunPython(create_extensions, migrations.RunPython.noop)]
