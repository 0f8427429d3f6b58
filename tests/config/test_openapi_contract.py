"""The branch API's OpenAPI document is the Dart app's contract: it validates, every operation is
named, described and lists its errors, and it matches the committed ``docs/openapi.json``, so
that a change of the contract is always made on purpose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from openapi_spec_validator import validate

from tenants.management.commands.export_openapi import openapi_document

COMMITTED = Path(settings.BASE_DIR) / "docs" / "openapi.json"
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
PUBLIC = {"auth_token", "auth_refresh"}  # the only operations without a bearer token


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


@pytest.mark.parametrize("which", ["branch", "platform"])
def test_the_document_is_valid_openapi(which):
    validate(json.loads(openapi_document(which)))


def test_the_committed_contract_is_the_current_one():
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document("branch"), (
        "the API's contract changed: run `uv run manage.py export_openapi` and commit docs/openapi.json"
    )


def test_the_document_served_is_the_committed_one(stmarys):
    served = stmarys.api().get("/api/openapi.json").json()

    assert served["paths"] == json.loads(COMMITTED.read_text(encoding="utf-8"))["paths"]


@pytest.mark.parametrize("which", ["branch", "platform"])
def test_every_operation_is_named_described_and_lists_its_errors(which):
    operations = _operations(json.loads(openapi_document(which)))
    ids = [operation["operationId"] for _method, _path, operation in operations]

    assert len(ids) == len(set(ids)), "operation ids are unique"
    for method, path, operation in operations:
        where = f"{method} {path}"
        assert OPERATION_ID.match(operation["operationId"]), where
        assert operation.get("summary"), where
        responses = operation["responses"]
        if operation["operationId"] not in PUBLIC:
            assert "401" in responses, where
        if operation.get("requestBody") or operation.get("parameters"):  # input that can be refused
            assert "422" in responses, where
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema, f"{where} {status} has a typed body"


def test_every_paged_list_has_one_shape():
    document = json.loads(openapi_document("branch"))
    schemas = document["components"]["schemas"]
    paged = {
        name: sorted(schema["properties"])
        for name, schema in schemas.items()
        if "items" in schema.get("properties", {}) and schema["properties"]["items"].get("type") == "array"
    }

    assert paged, "the document has paged lists"
    assert {name: ["count", "items", "page", "page_size"] for name in paged} == paged
