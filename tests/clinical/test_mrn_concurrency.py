"""MRNs under concurrency: ten desks registering at the same moment get ten different numbers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient
from tests.clinical.conftest import post


def test_mrns_are_never_duplicated_when_desks_register_at_once(committed):
    stmarys = committed.branch("stmarys")
    desk_user = stmarys.user(Role.RECEPTIONIST)
    token = stmarys.token(desk_user)
    results: list[int] = []
    created: list[str] = []

    def register(i: int) -> None:
        client = Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {token}")
        response = post(
            client,
            "/api/patients/",
            {"full_name": f"Parallel Person {i}", "gender": "other", "date_of_birth": f"19{50 + i}-01-01"},
        )
        results.append(response.status_code)
        if response.status_code == 201:
            created.append(response.json()["mrn"])
        connection.close()

    def remove() -> None:
        with schema_context(stmarys.schema):
            Patient.objects.filter(mrn__in=created).delete()

    committed.cleanup(remove)
    threads = [threading.Thread(target=register, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [201] * 10
    assert len(set(created)) == 10


def test_mrns_continue_where_a_previous_system_stopped_and_never_go_back(committed):
    from django.core.management import CommandError, call_command

    stmarys = committed.branch("stmarys")
    created: list[str] = []
    committed.cleanup(lambda: _remove(stmarys, created))
    call_command("mrn_start", "stmarys", "50000")
    desk = Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {stmarys.token(stmarys.user(Role.RECEPTIONIST))}")

    response = post(
        desk, "/api/patients/", {"full_name": "Migrated Numbering", "gender": "other", "date_of_birth": "1960-01-01"}
    )
    created.append(response.json()["mrn"])

    assert response.json()["mrn"] == f"{stmarys.hospital.mrn_prefix}050000"
    with pytest.raises(CommandError, match="50001"):
        call_command("mrn_start", "stmarys", "100")


def _remove(branch, mrns: list[str]) -> None:
    with schema_context(branch.schema):
        Patient.objects.filter(mrn__in=mrns).delete()
