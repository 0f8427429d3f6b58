"""The API's shape: OpenAPI documents, one error format, health endpoints."""

from __future__ import annotations

import pytest


def test_branch_openapi_lists_branch_routes_and_not_platform_routes(stmarys):
    response = stmarys.api().get("/api/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/auth/token/" in paths
    assert not any(path.startswith("/api/platform/") for path in paths)


def test_public_host_has_its_own_openapi_document(db, client):
    response = client.get("/api/openapi.json", HTTP_HOST="localhost")

    assert response.status_code == 200
    assert "/api/platform/hospitals/" in response.json()["paths"]
    assert "/api/auth/token/" in response.json()["paths"]


def test_api_docs_page_is_served(stmarys):
    response = stmarys.api().get("/api/docs")

    assert response.status_code == 200
    assert b"openapi.json" in response.content
    # hospitals often have no internet: the page's scripts come from this server
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content
    assert b"cdn." not in response.content


@pytest.mark.parametrize("method", ["get", "post"])
def test_api_path_without_trailing_slash_is_a_json_404(stmarys, method):
    response = getattr(stmarys.api(), method)("/api/auth/token", data={}, content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unknown_api_path_is_a_json_404(stmarys):
    response = stmarys.api().get("/api/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_malformed_json_body_is_a_422_not_a_500(stmarys):
    response = stmarys.api().post("/api/auth/token/", data="{not json", content_type="application/json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_missing_field_is_a_422_naming_the_field(stmarys):
    response = stmarys.api().post("/api/auth/token/", data={"username": "x"}, content_type="application/json")

    assert response.status_code == 422
    assert any("password" in error["loc"] for error in response.json()["detail"])


def test_unknown_host_is_a_404(db, client):
    response = client.get("/api/openapi.json", HTTP_HOST="nowhere.localhost")

    assert response.status_code == 404
    assert response.json()["detail"] == "No hospital branch at this address."


def test_healthz_answers_on_any_host(db, client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(stmarys):
    response = stmarys.api().get("/readyz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"
