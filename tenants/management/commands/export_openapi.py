"""Write the branch API's OpenAPI document: the contract the Dart app is generated from.

The committed copy, ``docs/openapi.json``, is compared with it by a test, so a change of the
contract is always made on purpose: run this, and commit the new document with the change.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.api import branch_api, platform_api

DOCUMENTS = {"branch": branch_api, "platform": platform_api}


def openapi_document(which: str = "branch") -> str:
    """The document as committed: keys sorted, two spaces, one newline at the end."""
    schema = DOCUMENTS[which].get_openapi_schema(path_prefix="/api/")
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the OpenAPI document of the branch API (or --api platform) to docs/openapi.json or --output."

    def add_arguments(self, parser):
        parser.add_argument("--api", choices=sorted(DOCUMENTS), default="branch")
        parser.add_argument("--output", help="A file, or - for standard output (default docs/openapi.json).")
        parser.add_argument("--check", action="store_true", help="Exit 1 if the file differs; write nothing.")

    def handle(self, *args, api: str, output: str | None, check: bool, **options):
        document = openapi_document(api)
        if output == "-":
            self.stdout.write(document, ending="")
            return
        path = Path(
            output
            or (Path(settings.BASE_DIR) / "docs" / ("openapi.json" if api == "branch" else f"openapi-{api}.json"))
        )
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != document:
                raise CommandError(f"{path} is not the current contract: run `uv run manage.py export_openapi`")
            self.stdout.write(f"{path} is current")
            return
        path.write_text(document, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
