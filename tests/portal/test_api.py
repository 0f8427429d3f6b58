"""GET /api/portal/me/: the patient account and the records it acts for; staff tokens, no token
and another branch's token are refused."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient
from portal.models import PatientLink
from portal.services import portal_link
from tests.clinical.conftest import register

pytestmark = pytest.mark.django_db


def _account_with(branch, *full_names: str) -> User:
    """A patient account of ``branch`` linked to new records with these names."""
    records = [register(branch, full_name=name, date_of_birth="2015-03-03") for name in full_names]
    with schema_context(branch.schema):
        account = User.objects.create_user(username="parent@example.org", role=Role.PATIENT, password="x" * 20)
        desk = branch.user(Role.RECEPTIONIST)
        for made, relationship in zip(records, ["self", "parent"], strict=False):
            portal_link(
                account=account,
                patient=Patient.objects.get(pk=made["id"]),
                relationship=relationship,
                linked_by=desk,
            )
    return account


def test_a_parent_sees_their_own_record_and_their_childs(stmarys):
    account = _account_with(stmarys, "Parent Person", "Child Person")

    answer = stmarys.api(account).get("/api/portal/me/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["username"] == "parent@example.org"
    assert [(p["full_name"], p["relationship"]) for p in body["patients"]] == [
        ("Parent Person", "self"),
        ("Child Person", "parent"),
    ]


@pytest.mark.parametrize("role", [Role.HOSPITAL_ADMIN, Role.RECEPTIONIST, Role.DOCTOR])
def test_a_staff_token_is_refused_on_the_portal(stmarys, role):
    answer = stmarys.api(stmarys.user(role)).get("/api/portal/me/")

    assert answer.status_code == 403


def test_no_token_or_another_branchs_token_is_401(stmarys, riverside):
    account = _account_with(stmarys, "Only Here")
    stranger = stmarys.api()
    with_riverside_token = riverside.api(riverside.user(Role.PATIENT))
    with_riverside_token.defaults["HTTP_HOST"] = stmarys.host

    assert stranger.get("/api/portal/me/").status_code == 401
    assert with_riverside_token.get("/api/portal/me/").status_code == 401
    assert stmarys.api(account).get("/api/portal/me/").status_code == 200


def test_an_account_without_links_sees_none(stmarys):
    answer = stmarys.api(stmarys.user(Role.PATIENT)).get("/api/portal/me/")

    assert answer.status_code == 200
    assert answer.json()["patients"] == []
    with schema_context(stmarys.schema):
        assert not PatientLink.objects.exists()
