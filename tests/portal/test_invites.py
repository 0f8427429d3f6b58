"""Portal invitations: staff invite a registered patient, the one-time link makes their account
(linked to their record) once; used, withdrawn, expired, unknown and other branches' links are
refused with a page that says so."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient
from core.errors import DomainError
from portal.models import PatientLink, PortalInvite
from portal.services import portal_invite, portal_invite_send
from tests.clinical.conftest import post, register
from workers.models import OutboxMessage

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-patient-passphrase"


def _patient(branch, **contact) -> Patient:
    made = register(branch, full_name="Ines Portal", date_of_birth="1990-05-05", **contact)
    with schema_context(branch.schema):
        return Patient.objects.get(pk=made["id"])


def _invite_and_send(branch, patient: Patient, channel: str = "") -> PortalInvite:
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        invite = portal_invite(patient=patient, invited_by=branch.user(Role.RECEPTIONIST), channel=channel)
        assert portal_invite_send(invite.pk)
        invite.refresh_from_db()
    return invite


def _link_path(text: str) -> str:
    return re.search(r"https?://[^/\s]+(/portal/activate/[A-Za-z0-9_-]+/)", text).group(1)


def test_the_link_makes_the_patients_account_once(stmarys, mailoutbox):
    patient = _patient(stmarys, email="ines@example.org")
    _invite_and_send(stmarys, patient)
    [mail] = mailoutbox
    path = _link_path(mail.body)
    page = Client(HTTP_HOST=stmarys.host)

    opened = page.get(path)
    differ = page.post(path, {"password1": PASSWORD, "password2": PASSWORD + "x"})
    weak = page.post(path, {"password1": "123", "password2": "123"})
    made = page.post(path, {"password1": PASSWORD, "password2": PASSWORD})
    again = page.get(path)

    assert mail.to == ["ines@example.org"]
    assert "St Mary's Hospital" in mail.subject
    assert opened.status_code == 200
    assert 'id="activate-form"' in opened.content.decode()
    assert differ.status_code == 422
    assert "The two passwords differ." in differ.content.decode()
    assert weak.status_code == 422
    assert "is-invalid" in weak.content.decode()
    assert made.status_code == 200
    assert "ines@example.org" in made.content.decode()
    assert again.status_code == 410
    assert "used already" in again.content.decode()
    with schema_context(stmarys.schema):
        account = User.objects.get(username="ines@example.org")
        assert account.role == Role.PATIENT
        assert list(PatientLink.objects.filter(account=account).values_list("patient_id", flat=True)) == [patient.pk]
    # the new account signs in to the app
    token = post(stmarys.api(), "/api/auth/token/", {"username": "ines@example.org", "password": PASSWORD})
    assert token.status_code == 200
    assert token.json()["role"] == "patient"


def test_a_text_message_carries_the_link(stmarys, settings, tmp_path):
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    patient = _patient(stmarys, phone="+447911123456", reminders={"channel": "sms"})

    _invite_and_send(stmarys, patient)

    [message] = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert message["to"] == "+447911123456"
    assert Client(HTTP_HOST=stmarys.host).get(_link_path(message["body"])).status_code == 200


def test_a_new_invitation_withdraws_the_earlier_link(stmarys, mailoutbox):
    patient = _patient(stmarys, email="twice@example.org")
    _invite_and_send(stmarys, patient)
    _invite_and_send(stmarys, patient)
    first, second = (_link_path(mail.body) for mail in mailoutbox)
    page = Client(HTTP_HOST=stmarys.host)

    withdrawn = page.get(first)
    current = page.get(second)

    assert withdrawn.status_code == 410
    assert "withdrawn" in withdrawn.content.decode()
    assert current.status_code == 200


def test_an_expired_an_unknown_and_another_branchs_link_are_refused(stmarys, riverside, mailoutbox):
    patient = _patient(stmarys, email="late@example.org")
    invite = _invite_and_send(stmarys, patient)
    path = _link_path(mailoutbox[0].body)
    with schema_context(stmarys.schema):
        PortalInvite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    expired = Client(HTTP_HOST=stmarys.host).post(path, {"password1": PASSWORD, "password2": PASSWORD})
    unknown = Client(HTTP_HOST=stmarys.host).get("/portal/activate/not-a-real-token/")
    elsewhere = Client(HTTP_HOST=riverside.host).get(path)

    assert expired.status_code == 410
    assert "expired" in expired.content.decode()
    assert unknown.status_code == 404
    assert "not valid" in unknown.content.decode()
    assert elsewhere.status_code == 404
    with schema_context(stmarys.schema):
        assert not User.objects.filter(username="late@example.org").exists()


def test_a_redelivered_send_sends_nothing_more(stmarys, mailoutbox):
    patient = _patient(stmarys, email="once@example.org")
    invite = _invite_and_send(stmarys, patient)

    with schema_context(stmarys.schema):
        again = portal_invite_send(invite.pk)

    assert again is False
    assert len(mailoutbox) == 1


def test_an_invitation_needs_a_way_to_reach_the_patient(stmarys):
    patient = _patient(stmarys)
    with schema_context(stmarys.schema), pytest.raises(DomainError) as refused:
        portal_invite(patient=patient, invited_by=stmarys.user(Role.RECEPTIONIST), channel="email")

    assert refused.value.field == "channel"
    assert not PortalInvite.objects.exists()
    assert not OutboxMessage.objects.filter(task_name="portal.send_invite").exists()
