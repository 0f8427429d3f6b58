"""The file storages of an S3-compatible bucket, as ``STORAGES`` entries (settings read the
environment and call this; tests call it for a bucket of their own)."""

from __future__ import annotations

from typing import Any


def s3_storages(
    *,
    bucket: str,
    endpoint_url: str | None = None,
    region: str | None = None,
    addressing_style: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    prefix: str = "",
) -> dict[str, dict[str, Any]]:
    """``default``: one key prefix per branch's schema; ``platform``: the platform's own files.
    Without keys, boto3 finds its own (AWS_* variables, an instance or pod role)."""
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
        "addressing_style": addressing_style or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "default_acl": None,  # private: the bucket's policy, never public-read
        "querystring_auth": True,
    }
    prefix = prefix.strip("/")
    return {
        # A branch's names are ours (a prescription version's id): a second save replaces.
        "default": {
            "BACKEND": "core.storage.TenantS3Storage",
            "OPTIONS": {**options, "location": prefix, "file_overwrite": True},
        },
        # Logos keep their uploaded names, and every branch's share one folder: never replace,
        # or one branch's "logo.png" would become another's.
        "platform": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **options,
                "location": "/".join(part for part in (prefix, "platform") if part),
                "file_overwrite": False,
            },
        },
    }
