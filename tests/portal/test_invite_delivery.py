"""A portal invitation through the real worker: the mail arrives and its link makes the account."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient
from portal.models import PatientLink, PortalInvite
from portal.services import portal_invite
from tests.clinical.conftest import register
from tests.portal.test_invites import PASSWORD, _link_path

pytestmark = pytest.mark.worker


def test_the_invitation_goes_through_the_worker_and_its_link_works(committed, celery_worker):
    stmarys = committed.branch("stmarys")
    made = register(stmarys, full_name="Wendy Worker", date_of_birth="1985-01-01", email="wendy.worker@example.org")

    def remove() -> None:
        with schema_context(stmarys.schema):
            PatientLink.objects.filter(patient_id=made["id"]).delete()
            PortalInvite.objects.filter(patient_id=made["id"]).delete()
            User.objects.filter(username="wendy.worker@example.org").delete()
            Patient.objects.filter(pk=made["id"]).delete()

    committed.cleanup(remove)
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        portal_invite(patient=Patient.objects.get(pk=made["id"]), invited_by=stmarys.user(Role.RECEPTIONIST))

    mail = celery_worker.wait_for_mail("To: wendy.worker@example.org")
    made_account = Client(HTTP_HOST=stmarys.host).post(_link_path(mail), {"password1": PASSWORD, "password2": PASSWORD})

    assert made_account.status_code == 200
    assert "St Mary's Hospital" in mail
    with schema_context(stmarys.schema):
        assert PortalInvite.objects.get(patient_id=made["id"]).state == PortalInvite.State.ACCEPTED
