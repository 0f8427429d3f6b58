"""MRNs under concurrency: ten desks registering at the same moment get ten different numbers."""

from __future__ import annotations

import json
import threading

from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


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
