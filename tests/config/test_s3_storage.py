"""Files in an S3-compatible bucket by configuration alone: one key prefix per branch, and a
worker configured so stores the PDFs there, where the API finds them.

The bucket is served by moto's S3 server (a separate process speaking the S3 protocol over
HTTP): there is no MinIO or Ceph to install from the package registries here."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django_tenants.utils import schema_context
from storages.backends.s3 import S3Storage

from accounts.models import Role
from config.embedded import free_port, stop_process, wait_for_port
from config.storages import s3_storages
from tests.clinical.conftest import assign, prescribe, register
from tests.clinical.test_prescription_pdf import _remove
from tests.conftest import worker_env, worker_start

BUCKET = "hospital-files"
KEYS = {"access_key": "test-key-id", "secret_key": "test-secret-key"}


class Bucket:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEYS["access_key"],
            aws_secret_access_key=KEYS["secret_key"],
        )

    def key_names(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def storages(self) -> dict:
        return s3_storages(bucket=BUCKET, endpoint_url=self.endpoint, region="us-east-1", **KEYS)


@pytest.fixture
def bucket(tmp_path):
    port = free_port()
    log = tmp_path / "s3.log"
    with open(log, "w") as handle:
        server = subprocess.Popen(
            [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, server, log, "the S3 server")
        made = Bucket(f"http://127.0.0.1:{port}")
        made.client.create_bucket(Bucket=BUCKET)
        yield made
    finally:
        stop_process(server)


def test_each_branch_has_its_own_prefix_in_the_bucket(stmarys, riverside, bucket):
    with override_settings(STORAGES={**settings.STORAGES, **bucket.storages()}):
        with schema_context(stmarys.schema):
            saved = default_storage.save("prescriptions/same-name.pdf", ContentFile(b"stmarys' file"))
        with schema_context(riverside.schema):
            seen_from_riverside = default_storage.exists(saved)
            default_storage.save("prescriptions/same-name.pdf", ContentFile(b"riverside's file"))
        with schema_context(stmarys.schema), default_storage.open(saved) as handle:
            stmarys_reads = handle.read()

    assert saved == "prescriptions/same-name.pdf"
    assert not seen_from_riverside
    assert stmarys_reads == b"stmarys' file"
    assert bucket.key_names() == ["riverside/prescriptions/same-name.pdf", "stmarys/prescriptions/same-name.pdf"]


@pytest.mark.worker
def test_a_worker_configured_for_a_bucket_stores_the_pdf_there(committed, bucket, spare_redis, monkeypatch, tmp_path):
    stmarys = committed.branch("stmarys")
    media = tmp_path / "media"
    env = worker_env(
        {
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": bucket.endpoint,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": KEYS["access_key"],
            "S3_SECRET_ACCESS_KEY": KEYS["secret_key"],
            "MEDIA_ROOT": str(media),
            "REDIS_URL": spare_redis.url,
        }
    )
    worker = worker_start(env, tmp_path / "worker.log", queues="pdf")
    committed.cleanup(lambda: stop_process(worker))
    spare_redis.take_commits(monkeypatch)
    doctor = stmarys.user(Role.DOCTOR)

    with override_settings(STORAGES={**settings.STORAGES, **bucket.storages()}):
        patient = register(stmarys, full_name="Bucket Patient")
        committed.cleanup(lambda: _remove(stmarys, [patient["id"]]))
        assign(stmarys, patient["id"], doctor)
        prescription_id = prescribe(stmarys, doctor, patient["id"], diagnosis="Sprained ankle", medicine="Ibuprofen")
        doctor_api = stmarys.api(doctor)
        deadline = time.monotonic() + 60
        while (pdf := doctor_api.get(f"/api/prescriptions/{prescription_id}/pdf/")).status_code == 202:
            assert time.monotonic() < deadline, "the PDF was not made"
            assert worker.poll() is None, "the worker died"
            time.sleep(0.3)

    assert pdf.status_code == 200
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert f"stmarys/prescriptions/{prescription_id}.pdf" in bucket.key_names()
    assert not list(Path(media).rglob("*.pdf")), "nothing is written to the worker's disk"


def test_two_branches_logos_of_the_same_name_both_stay(bucket):
    platform = S3Storage(**bucket.storages()["platform"]["OPTIONS"])

    first = platform.save("branch-logos/logo.png", ContentFile(b"stmarys' logo"))
    second = platform.save("branch-logos/logo.png", ContentFile(b"riverside's logo"))

    assert first != second
    with platform.open(first) as handle:
        assert handle.read() == b"stmarys' logo"
    assert all(key.startswith("platform/branch-logos/") for key in bucket.key_names())
