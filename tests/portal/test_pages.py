"""The front desk's card of a patient's portal access: who may open and use it (a refused POST
changes nothing), and inviting, sending again and withdrawing from the profile with htmx."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import AuditEvent, Patient
from portal.models import PatientLink, PortalInvite
from tests.clinical.conftest import register

pytestmark = pytest.mark.django_db

CALLERS = ["admin", "receptionist", "doctor", "patient", "outsider", "anonymous"]
DESK = {"admin", "receptionist"}
LOGIN = "login"


def _client(caller: str, stmarys, riverside) -> Client:
    if caller == "anonymous":
        return Client(HTTP_HOST=stmarys.host)
    if caller == "outsider":  # signed in at riverside, trying stmarys
        signed_in = riverside.client(riverside.user(Role.HOSPITAL_ADMIN))
        signed_in.defaults["HTTP_HOST"] = stmarys.host
        return signed_in
    role = {"admin": Role.HOSPITAL_ADMIN, "receptionist": Role.RECEPTIONIST, "doctor": Role.DOCTOR}.get(
        caller, Role.PATIENT
    )
    return stmarys.client(stmarys.user(role))


def _patient(branch, **contact) -> Patient:
    made = register(branch, full_name="Card Patient", date_of_birth="1975-07-07", **contact)
    with schema_context(branch.schema):
        return Patient.objects.get(pk=made["id"])


def _expect(response, caller: str, allowed: int) -> None:
    if caller in ("outsider", "anonymous"):
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == (allowed if caller in DESK else 403)


@pytest.mark.parametrize("caller", CALLERS)
def test_who_may_see_and_use_the_card(stmarys, riverside, caller):
    patient = _patient(stmarys, email="card@example.org")
    with schema_context(stmarys.schema):
        invite = PortalInvite.objects.create(patient=patient, channel="email", expires_at="2099-01-01T00:00:00Z")
    client = _client(caller, stmarys, riverside)

    card = client.get(f"/patients/{patient.pk}/portal/")
    sent = client.post(f"/patients/{patient.pk}/portal/invite/")
    with schema_context(stmarys.schema):
        invites_after_send = PortalInvite.objects.filter(patient=patient).count()
    revoked = client.post(f"/portal/invites/{invite.pk}/revoke/")

    _expect(card, caller, 200)
    _expect(sent, caller, 302)
    _expect(revoked, caller, 302)
    with schema_context(stmarys.schema):
        assert invites_after_send == (2 if caller in DESK else 1)
        # sending again withdrew the first; a refused caller withdrew nothing
        assert (PortalInvite.objects.get(pk=invite.pk).revoked_at is not None) == (caller in DESK)


def test_the_desk_invites_sends_again_and_withdraws_from_the_profile(stmarys):
    patient = _patient(stmarys, email="desk.flow@example.org")
    desk = stmarys.client(stmarys.user(Role.RECEPTIONIST))
    htmx = {"HTTP_HX_REQUEST": "true"}

    profile = desk.get(f"/patients/{patient.pk}/").content.decode()
    first = desk.get(f"/patients/{patient.pk}/portal/").content.decode()
    invited = desk.post(f"/patients/{patient.pk}/portal/invite/", **htmx).content.decode()
    again = desk.post(f"/patients/{patient.pk}/portal/invite/", **htmx).content.decode()
    with schema_context(stmarys.schema):
        newest = PortalInvite.objects.filter(patient=patient).latest("created_at")
    withdrawn = desk.post(f"/portal/invites/{newest.pk}/revoke/", **htmx).content.decode()

    assert f"/patients/{patient.pk}/portal/" in profile  # the card loads on the profile
    assert "Invite to the portal" in first
    assert 'data-state="waiting"' in invited
    assert "Withdraw" in invited
    assert "Send the invitation again" in again
    assert 'data-state="revoked"' in withdrawn
    assert "Invite to the portal" in withdrawn
    with schema_context(stmarys.schema):
        assert PortalInvite.objects.filter(patient=patient, revoked_at__isnull=True).count() == 0
        actions = list(
            AuditEvent.objects.filter(patient_id=patient.pk, action__startswith="portal").values_list(
                "action", flat=True
            )
        )
    assert sorted(actions) == ["portal_invite", "portal_invite", "portal_invite_revoke"]


def test_a_patient_without_an_address_is_told_on_the_card(stmarys):
    patient = _patient(stmarys)
    desk = stmarys.client(stmarys.user(Role.RECEPTIONIST))

    refused = desk.post(f"/patients/{patient.pk}/portal/invite/", HTTP_HX_REQUEST="true")

    assert refused.status_code == 422
    assert "add one first" in refused.content.decode()
    with schema_context(stmarys.schema):
        assert not PortalInvite.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("caller", CALLERS)
def test_deactivating_an_account_ends_its_tokens_at_once_and_only_the_desk_may(stmarys, riverside, caller):
    patient = _patient(stmarys, email="ends@example.org")
    with schema_context(stmarys.schema):
        account = User.objects.create_user(username="ends@example.org", role=Role.PATIENT, password="p" * 20)
        PatientLink.objects.create(account=account, patient=patient)
    app = stmarys.api(account)  # signed in to the app
    assert app.get("/api/portal/me/").status_code == 200

    answer = _client(caller, stmarys, riverside).post(
        f"/patients/{patient.pk}/portal/accounts/{account.pk}/deactivate/", HTTP_HX_REQUEST="true"
    )

    _expect(answer, caller, 200)
    if caller in DESK:
        assert 'data-active="false"' in answer.content.decode()
        assert "Invite to the portal" in answer.content.decode()
        assert app.get("/api/portal/me/").status_code == 401  # the app's token is refused at once
    else:
        assert app.get("/api/portal/me/").status_code == 200
    with schema_context(stmarys.schema):
        assert User.objects.get(pk=account.pk).is_active == (caller not in DESK)
