"""Lockout per (username, address): a hospital's desks share one address."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import SecurityEvent
from tests.conftest import PASSWORD


def _attempt(branch, username, password, address):
    return Client(HTTP_HOST=branch.host, REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, content_type="application/json"
    )


def _lock(branch, username, address):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _attempt(branch, username, "wrong-password", address)


def test_repeated_failures_lock_the_pair_with_a_json_429(stmarys):
    _lock(stmarys, "doctor@stmarys.test", "10.1.1.1")

    response = _attempt(stmarys, "doctor@stmarys.test", PASSWORD, "10.1.1.1")

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    with schema_context(stmarys.schema):
        assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOCKED_OUT, username="doctor@stmarys.test").exists()
        assert (
            SecurityEvent.objects.filter(
                kind=SecurityEvent.Kind.LOGIN_FAILED, username="doctor@stmarys.test", address="10.1.1.1"
            ).count()
            >= 4
        )


def test_a_colleague_at_the_same_address_can_still_sign_in(stmarys):
    _lock(stmarys, "doctor@stmarys.test", "10.1.1.1")

    assert _attempt(stmarys, "receptionist@stmarys.test", PASSWORD, "10.1.1.1").status_code == 200


def test_the_same_user_from_another_address_can_still_sign_in(stmarys):
    _lock(stmarys, "doctor@stmarys.test", "10.1.1.1")

    assert _attempt(stmarys, "doctor@stmarys.test", PASSWORD, "10.2.2.2").status_code == 200


def test_a_lockout_in_one_branch_does_not_lock_another(stmarys, riverside):
    _lock(stmarys, "doctor@stmarys.test", "10.1.1.1")

    assert _attempt(riverside, "doctor@riverside.test", PASSWORD, "10.1.1.1").status_code == 200


def test_dashboard_lockout_is_a_page_not_json(stmarys):
    client = Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.3.3.3")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "doctor@stmarys.test", "password": "nope"})

    response = client.post("/accounts/login/", {"username": "doctor@stmarys.test", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
