"""Where files live when ``S3_BUCKET`` is set: an S3-compatible bucket (AWS, MinIO, Ceph...),
with one key prefix per branch's schema, as ``TenantFileSystemStorage`` keeps one folder each."""

from __future__ import annotations

from storages.backends.s3 import S3Storage

from core.db import current_schema


class TenantS3Storage(S3Storage):
    """Keys under ``<location>/<schema>/``: a name saved in one branch is never found, listed or
    overwritten from another. The schema is read at each call, as the connection's changes."""

    _root = ""

    @property  # type: ignore[override]
    def location(self) -> str:
        return "/".join(part for part in (self._root, current_schema()) if part)

    @location.setter
    def location(self, value: str) -> None:
        self._root = value.strip("/")
