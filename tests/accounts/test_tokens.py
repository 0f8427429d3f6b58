"""API tokens: issued per branch, refused by every other branch, revoked when they should be."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from accounts.services import password_set, staff_deactivate
from tests.conftest import PASSWORD


def _obtain(branch, email: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    return Client(HTTP_HOST=branch.host, REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": email, "password": password}, content_type="application/json"
    )


def _me(branch, access: str):
    return Client(HTTP_HOST=branch.host, HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/auth/me/")


def test_sign_in_returns_tokens_and_role(stmarys):
    response = _obtain(stmarys, "doctor@stmarys.test")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "role"}
    assert body["token_type"] == "Bearer"
    assert body["role"] == Role.DOCTOR
    assert body["access"].startswith("stmarys.")
    assert _me(stmarys, body["access"]).json()["email"] == "doctor@stmarys.test"


def test_wrong_password_is_401_with_detail(stmarys):
    response = _obtain(stmarys, "doctor@stmarys.test", "wrong")

    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."


def test_token_from_one_branch_is_refused_by_another_even_with_the_same_user_id(stmarys, riverside):
    # given a token of stmarys' doctor, and a riverside doctor with the very same id
    doctor = stmarys.user(Role.DOCTOR)
    assert riverside.user(Role.DOCTOR).pk == doctor.pk
    access = stmarys.token(doctor)

    # then riverside refuses it, whatever its prefix says
    assert _me(riverside, access).status_code == 401
    assert _me(riverside, "riverside." + access.partition(".")[2]).status_code == 401
    assert _me(stmarys, access).status_code == 200


def test_a_user_of_one_branch_does_not_exist_in_another(riverside):
    assert _obtain(riverside, "doctor@stmarys.test").status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_is_spent(stmarys):
    tokens = _obtain(stmarys, "receptionist@stmarys.test").json()
    client = Client(HTTP_HOST=stmarys.host)

    renewed = client.post("/api/auth/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json")
    again = client.post("/api/auth/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json")

    assert renewed.status_code == 200
    assert renewed.json()["role"] == Role.RECEPTIONIST
    assert _me(stmarys, renewed.json()["access"]).status_code == 200
    assert again.status_code == 401


def test_refresh_token_is_not_an_access_token(stmarys):
    tokens = _obtain(stmarys, "receptionist@stmarys.test").json()

    assert _me(stmarys, tokens["refresh"]).status_code == 401


def test_logout_revokes_that_sign_ins_tokens_only(stmarys):
    first = _obtain(stmarys, "doctor@stmarys.test").json()
    second = _obtain(stmarys, "doctor@stmarys.test").json()

    response = Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {first['access']}").post("/api/auth/logout/")

    assert response.status_code == 204
    assert _me(stmarys, first["access"]).status_code == 401
    refreshed = Client(HTTP_HOST=stmarys.host).post(
        "/api/auth/refresh/", {"refresh": first["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == 401
    assert _me(stmarys, second["access"]).status_code == 200


@pytest.mark.parametrize("how", ["password_change", "deactivation"])
def test_password_change_and_deactivation_revoke_every_token(stmarys, how):
    from django_tenants.utils import schema_context

    tokens = _obtain(stmarys, "doctor@stmarys.test").json()
    doctor = stmarys.user(Role.DOCTOR)
    with schema_context(stmarys.schema):
        if how == "password_change":
            password_set(user=doctor, password="another-long-passphrase")
        else:
            staff_deactivate(user=doctor, deactivated_by=stmarys.user(Role.HOSPITAL_ADMIN))

    assert _me(stmarys, tokens["access"]).status_code == 401
    refreshed = Client(HTTP_HOST=stmarys.host).post(
        "/api/auth/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == 401


def test_missing_or_garbage_token_is_401_json(stmarys):
    client = Client(HTTP_HOST=stmarys.host)

    assert client.get("/api/auth/me/").status_code == 401
    response = client.get("/api/auth/me/", HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_sign_in_with_the_e_mail_in_any_capitals(stmarys):
    assert _obtain(stmarys, "  Doctor@StMarys.TEST ").status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "doctor\x00@stmarys.test", "password": PASSWORD},
        {"username": "d" * 151, "password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"username": "doctor@stmarys.test", "password": "pass\x00word"},
    ],
)
def test_malformed_credentials_are_a_422_not_a_500(stmarys, payload):
    response = Client(HTTP_HOST=stmarys.host).post("/api/auth/token/", payload, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in {"username", "password"}


def test_a_lone_surrogate_is_a_422_not_a_500(stmarys):
    body = '{"username": "doctor\\ud800@stmarys.test", "password": "x"}'

    response = Client(HTTP_HOST=stmarys.host).post("/api/auth/token/", body, content_type="application/json")

    assert response.status_code == 422
