"""One branch's backup: its schema (``pg_dump --schema``, rows included) and its stored files, in
one archive; and its restore under another name, to inspect it or to replace the branch after an
accident, without touching any other branch.

The dump is replayed with its schema's name rewritten on the statement lines only, never inside
the rows of a ``COPY … FROM stdin`` block (a patient's e-mail may well contain the branch's
name), by ``psql`` in one transaction: a restore is whole or nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tenants.utils import schema_context

from core.db import tenant_connection
from core.errors import DomainError
from core.postgres import pg_command
from tenants import services
from tenants.db_roles import app_role_grant
from tenants.models import Hospital

FORMAT = 1
# The branch's own settings carried over to the restored branch (its name, slug and host are new).
_KEPT_FIELDS = (
    "country",
    "time_zone",
    "languages",
    "address",
    "contact_phone",
    "contact_email",
    "mrn_prefix",
    "break_glass_hours",
    "desk_prints_prescriptions",
    "reminder_offsets_minutes",
    "quiet_hours_start",
    "quiet_hours_end",
    "sms_sender_id",
    "sms_template_ids",
    "portal_cancel_hours",
    "portal_names_staff",
    "queue_tokens",
    "queue_order",
    "queue_late_rule",
    "queue_late_minutes",
    "queue_wait_alert_minutes",
)


def _stored_names(folder: str = "") -> list[str]:
    """Every file of the current branch's storage, walked from ``folder``."""
    directories, files = default_storage.listdir(folder)
    names = [f"{folder}{name}" for name in files]
    for directory in directories:
        names += _stored_names(f"{folder}{directory}/")
    return names


def branch_export(*, slug: str, output: Path) -> Path:
    """Write the branch ``slug``'s schema and files to ``output`` (a .tar.gz)."""
    with schema_context("public"):
        hospital = Hospital.objects.filter(slug=slug, ready=True).first()
    if hospital is None:
        raise DomainError.not_found(f"No ready branch {slug!r}.")
    command, env = pg_command("pg_dump", "--no-owner", "--no-privileges", "--schema", hospital.schema_name)
    dump = subprocess.run(command, env=env, capture_output=True, check=True, timeout=3600).stdout  # noqa: S603
    meta = {
        "format": FORMAT,
        "slug": hospital.slug,
        "schema": hospital.schema_name,
        "name": hospital.name,
        "group": hospital.group.name if hospital.group_id else "",
        "exported_at": timezone.now().isoformat(),
        "settings": {name: _plain(getattr(hospital, name)) for name in _KEPT_FIELDS},
    }
    with schema_context(hospital.schema_name):
        tenant_connection().set_tenant(hospital)
        try:
            names = _stored_names()
        except FileNotFoundError:  # a branch that never stored a file has no folder yet
            names = []
        with tarfile.open(output, "w:gz") as archive:
            _add(archive, "branch.json", json.dumps(meta, indent=2).encode())
            _add(archive, "schema.sql", dump)
            for name in names:
                with default_storage.open(name, "rb") as stored:
                    _add(archive, f"files/{name}", stored.read())
    return output


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(timezone.now().timestamp())
    archive.addfile(info, io.BytesIO(data))


def _renamed(dump: str, old: str, new: str) -> str:
    """The dump with schema ``old`` named ``new`` in its statements; rows are left as they are."""
    name = re.compile(rf'(?<![\w$])("?){re.escape(old)}\1(?![\w$])')
    lines, in_rows = [], False
    for line in dump.splitlines(keepends=True):
        if in_rows:
            in_rows = line.rstrip("\n") != "\\."
            lines.append(line)
            continue
        rewritten = name.sub(lambda match: f"{match.group(1)}{new}{match.group(1)}", line)
        in_rows = rewritten.startswith("COPY ") and rewritten.rstrip().endswith("FROM stdin;")
        lines.append(rewritten)
    return "".join(lines)


def branch_restore(*, archive: Path, slug: str, name: str = "") -> Hospital:
    """Make a new branch ``slug`` from an archive of ``branch_export``: its own schema, row,
    host and files. No other branch is touched; any failure removes what was made."""
    with tarfile.open(archive, "r:gz") as source:
        meta = json.loads(source.extractfile("branch.json").read())  # type: ignore[union-attr]
        if meta.get("format") != FORMAT:
            raise DomainError.invalid("archive", "Not a branch archive of this version.")
        dump = source.extractfile("schema.sql").read().decode()  # type: ignore[union-attr]
        files = {
            member.name.removeprefix("files/"): source.extractfile(member).read()  # type: ignore[union-attr]
            for member in source.getmembers()
            if member.isfile() and member.name.startswith("files/")
        }
    slug = (slug or "").strip().lower()
    if not services.SLUG_PATTERN.match(slug) or services.slug_reserved(slug):
        raise DomainError.invalid("slug", "Use 1 to 40 lower-case letters, digits and hyphens, starting with a letter.")
    kept = dict(meta["settings"])
    with schema_context("public"):
        hospital = services._claim(
            group_name=meta.get("group", ""),
            domain_name=f"{slug}.{settings.BASE_DOMAIN}",
            name=name or f"{meta['name']} (restored)",
            slug=slug,
            country=kept.pop("country"),
            time_zone=kept.pop("time_zone"),
            languages=kept.pop("languages"),
            mrn_prefix=kept.pop("mrn_prefix"),
            address=kept.pop("address"),
            contact_phone=kept.pop("contact_phone"),
            contact_email=kept.pop("contact_email"),
        )
        try:
            command, env = pg_command("psql", "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1")
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                command,
                input=_renamed(dump, meta["schema"], hospital.schema_name).encode(),
                env=env,
                capture_output=True,
                check=True,
                timeout=3600,
            )
            app_role_grant(hospital.schema_name)
            with schema_context(hospital.schema_name):
                tenant_connection().set_tenant(hospital)
                for stored_name, data in files.items():
                    default_storage.save(stored_name, ContentFile(data))
            Hospital.objects.filter(pk=hospital.pk).update(ready=True, **_typed(kept))
        except BaseException:
            services.branch_remove(hospital)
            raise
        hospital.refresh_from_db()
    return hospital


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: dt.time.fromisoformat(value) if name in ("quiet_hours_start", "quiet_hours_end") else value
        for name, value in values.items()
    }
