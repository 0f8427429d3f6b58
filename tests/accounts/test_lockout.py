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
    assert response.json()["code"] == "locked_out"
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
    # given the very same username in both branches
    from accounts.models import Role, User

    with schema_context(riverside.schema):
        User.objects.create_user(username="doctor@stmarys.test", password=PASSWORD, role=Role.DOCTOR)
    _lock(stmarys, "doctor@stmarys.test", "10.1.1.1")

    assert _attempt(riverside, "doctor@stmarys.test", PASSWORD, "10.1.1.1").status_code == 200


def test_capitals_do_not_make_a_new_username_for_the_counter(stmarys):
    _lock(stmarys, "Doctor@StMarys.test", "10.1.1.1")

    assert _attempt(stmarys, "doctor@stmarys.test", PASSWORD, "10.1.1.1").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(stmarys, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    def attempt(password, forwarded):
        return Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded).post(
            "/api/auth/token/",
            {"username": "doctor@stmarys.test", "password": password},
            content_type="application/json",
        )

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("wrong-password", "6.6.6.6, 192.0.2.10")

    # a forged left-hand entry changes nothing: the proxy's own entry is what counts
    assert attempt(PASSWORD, "7.7.7.7, 192.0.2.10").status_code == 429
    # another desk behind the same proxy is someone else
    assert attempt(PASSWORD, "192.0.2.11").status_code == 200
    with schema_context(stmarys.schema):
        assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOGIN, address="192.0.2.11").exists()


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(stmarys):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6").post(
            "/api/auth/token/",
            {"username": "doctor@stmarys.test", "password": "wrong"},
            content_type="application/json",
        )

    assert _attempt(stmarys, "doctor@stmarys.test", PASSWORD, "10.0.0.9").status_code == 429


def test_dashboard_lockout_is_a_page_not_json(stmarys):
    client = Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.3.3.3")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "doctor@stmarys.test", "password": "nope"})

    response = client.post("/accounts/login/", {"username": "doctor@stmarys.test", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()


def test_username_and_e_mail_are_one_account_for_the_counter(stmarys):
    from accounts.models import Role, User

    with schema_context(stmarys.schema):
        User.objects.create_user(username="drsmith", email="smith@stmarys.test", password=PASSWORD, role=Role.DOCTOR)
    for n in range(settings.AXES_FAILURE_LIMIT):
        _attempt(stmarys, "drsmith" if n % 2 else "Smith@stmarys.test", "wrong-password", "10.4.4.4")

    assert _attempt(stmarys, "drsmith", PASSWORD, "10.4.4.4").status_code == 429
    assert _attempt(stmarys, "smith@stmarys.test", PASSWORD, "10.4.4.4").status_code == 429


def test_a_forwarded_address_with_a_port_is_still_the_clients(stmarys, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="198.51.100.4:51234").post(
        "/api/auth/token/", {"username": "doctor@stmarys.test", "password": PASSWORD}, content_type="application/json"
    )

    with schema_context(stmarys.schema):
        assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.LOGIN, address="198.51.100.4").exists()
