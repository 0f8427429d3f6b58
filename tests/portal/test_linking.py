"""The desk links an existing portal account to more records (a parent to a child) and unlinks
it; an account the desk ended comes back, with its records, when the patient is invited again."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, SecurityEvent, User
from clinical.models import AuditEvent, Patient
from core.errors import DomainError
from portal.models import PatientLink
from portal.services import portal_link
from tests.clinical.conftest import post, register
from tests.portal.test_invites import PASSWORD, _invite_and_send, _link_path, _patient

pytestmark = pytest.mark.django_db


def _account_for(branch, mailoutbox, patient: Patient) -> User:
    """The patient's own account, made from their invitation."""
    _invite_and_send(branch, patient)
    path = _link_path(mailoutbox[-1].body)
    made = Client(HTTP_HOST=branch.host).post(path, {"password1": PASSWORD, "password2": PASSWORD})
    assert made.status_code == 200
    with schema_context(branch.schema):
        return User.objects.get(username=patient.email)


def _card_post(branch, path: str, data: dict | None = None, role: str = Role.RECEPTIONIST):
    return branch.client(branch.user(role)).post(path, data or {}, HTTP_HX_REQUEST="true")


def _link(branch, patient_id, typed: str, relationship: str, role: str = Role.RECEPTIONIST):
    """The desk's two steps: find the account by what is typed, then confirm that person."""
    card = f"/patients/{patient_id}/portal/link/"
    found = _card_post(branch, card, {"account": typed, "relationship": relationship}, role=role)
    if found.status_code != 200 or 'name="confirm"' not in found.content.decode():
        return found, None
    confirm = re.search(r'name="confirm" value="(\d+)"', found.content.decode()).group(1)
    return found, _card_post(branch, card, {"confirm": confirm, "relationship": relationship}, role=role)


def _token(branch, username: str, password: str = PASSWORD):
    return post(branch.api(), "/api/auth/token/", {"username": username, "password": password})


def _me(branch, access: str) -> list[str]:
    answer = Client(HTTP_HOST=branch.host, HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/portal/me/")
    return [p["full_name"] for p in answer.json()["patients"]] if answer.status_code == 200 else [answer.status_code]


def test_the_desk_links_a_parents_account_to_her_child_and_unlinks_it(stmarys, mailoutbox):
    mother = _patient(stmarys, email="maya@example.org")
    made = register(stmarys, full_name="Noor Child", date_of_birth="2019-09-09", email="maya@example.org")
    with schema_context(stmarys.schema):
        child = Patient.objects.get(pk=made["id"])
    account = _account_for(stmarys, mailoutbox, mother)
    access = _token(stmarys, "maya@example.org").json()["access"]
    card = f"/patients/{child.pk}/portal/"

    # the child's record has her mother's address: an invitation would clash, so the desk links
    unknown, _ = _link(stmarys, child.pk, "nobody@example.org", "parent")
    staff, _ = _link(stmarys, child.pk, "doctor@stmarys.test", "parent")
    found, linked = _link(stmarys, child.pk, " MAYA@example.org ", "parent")
    sees_both = _me(stmarys, access)
    unlinked = _card_post(stmarys, f"{card}accounts/{account.pk}/unlink/")
    sees_one = _me(stmarys, access)

    assert unknown.status_code == staff.status_code == 422
    assert "No active patient account" in unknown.content.decode()
    # the desk sees whose account it is before anything is linked
    assert "is Ines Portal's" in found.content.decode()
    assert linked.status_code == 200
    assert "maya@example.org" in linked.content.decode()
    assert sees_both == ["Ines Portal", "Noor Child"]
    assert unlinked.status_code == 200
    assert sees_one == ["Ines Portal"]
    with schema_context(stmarys.schema):
        assert PatientLink.objects.filter(patient=child).count() == 0
        actions = list(
            AuditEvent.objects.filter(patient_id=child.pk, action__startswith="portal_").values_list(
                "action", flat=True
            )
        )
        assert actions == ["portal_unlink", "portal_link"]


def test_a_phone_number_finds_the_account_as_the_branch_writes_it(stmarys, settings, tmp_path):
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    made = register(stmarys, full_name="Sami Phone", date_of_birth="1980-08-08", phone="+447911123456")
    child = register(stmarys, full_name="Sami Junior", date_of_birth="2016-06-06")
    with schema_context(stmarys.schema):
        User.objects.create_user(username="+447911123456", role=Role.PATIENT, password=PASSWORD)
        sami = Patient.objects.get(pk=made["id"])
        assert sami.phone == "+447911123456"

    found, linked = _link(stmarys, child["id"], "07911 123456", "carer")

    assert "has no record of its own here" in found.content.decode()
    assert linked.status_code == 200
    with schema_context(stmarys.schema):
        assert PatientLink.objects.get(patient_id=child["id"]).relationship == "carer"


def test_doctors_cannot_link_or_unlink(stmarys):
    child = register(stmarys, full_name="Doc Probe", date_of_birth="2016-06-06")

    refused, _ = _link(stmarys, child["id"], "x@example.org", "parent", role=Role.DOCTOR)

    assert refused.status_code == 403


def test_an_ended_account_comes_back_with_its_records_when_the_patient_is_invited_again(stmarys, mailoutbox):
    patient = _patient(stmarys, email="lost.phone@example.org")
    account = _account_for(stmarys, mailoutbox, patient)
    old_access = _token(stmarys, "lost.phone@example.org").json()["access"]

    ended = _card_post(stmarys, f"/patients/{patient.pk}/portal/accounts/{account.pk}/deactivate/")
    refused_while_ended = _token(stmarys, "lost.phone@example.org")
    _invite_and_send(stmarys, patient)
    path = _link_path(mailoutbox[-1].body)
    back = Client(HTTP_HOST=stmarys.host).post(path, {"password1": PASSWORD + "2", "password2": PASSWORD + "2"})
    old_password = _token(stmarys, "lost.phone@example.org")
    new = _token(stmarys, "lost.phone@example.org", PASSWORD + "2")

    assert ended.status_code == 200
    assert refused_while_ended.status_code == 401
    assert back.status_code == 200
    assert old_password.status_code == 401
    assert new.status_code == 200
    assert _me(stmarys, new.json()["access"]) == ["Ines Portal"]
    assert _me(stmarys, old_access) == [401]  # what the lost phone held stays ended
    with schema_context(stmarys.schema):
        assert User.objects.filter(username__iexact="lost.phone@example.org").count() == 1
        kinds = list(SecurityEvent.objects.filter(user=account).values_list("kind", flat=True))
        assert SecurityEvent.Kind.DEACTIVATED in kinds
        assert SecurityEvent.Kind.REACTIVATED in kinds


def test_an_invitation_whose_address_belongs_to_someone_elses_account_is_refused(stmarys, mailoutbox):
    mother = _patient(stmarys, email="shared@example.org")
    _account_for(stmarys, mailoutbox, mother)
    made = register(stmarys, full_name="Shared Child", date_of_birth="2018-01-01", email="shared@example.org")
    with schema_context(stmarys.schema):
        child = Patient.objects.get(pk=made["id"])

    _invite_and_send(stmarys, child)
    refused = Client(HTTP_HOST=stmarys.host).post(
        _link_path(mailoutbox[-1].body), {"password1": PASSWORD, "password2": PASSWORD}
    )

    assert refused.status_code == 410
    assert "already signs in to another account" in refused.content.decode()
    with schema_context(stmarys.schema):
        assert not PatientLink.objects.filter(patient=child).exists()


def test_an_account_is_one_persons_own_and_a_carer_is_not_revived_with_it(stmarys, mailoutbox):
    carer = _patient(stmarys, email="carer.once@example.org")
    account = _account_for(stmarys, mailoutbox, carer)
    cared = register(stmarys, full_name="Cared For", date_of_birth="1940-04-04")
    other = register(stmarys, full_name="Not Theirs", date_of_birth="1950-05-05")
    _link(stmarys, cared["id"], "carer.once@example.org", "carer")
    with schema_context(stmarys.schema):
        desk = stmarys.user(Role.RECEPTIONIST)
        with pytest.raises(DomainError, match="another patient's own"):
            portal_link(account=account, patient=Patient.objects.get(pk=other["id"]), relationship="self",
                        linked_by=desk)  # fmt: skip

    # the desk ends the account from the cared-for patient's card; later the carer is invited again
    _card_post(stmarys, f"/patients/{cared['id']}/portal/accounts/{account.pk}/deactivate/")
    _invite_and_send(stmarys, carer)
    back = Client(HTTP_HOST=stmarys.host).post(
        _link_path(mailoutbox[-1].body), {"password1": PASSWORD + "3", "password2": PASSWORD + "3"}
    )

    assert back.status_code == 200
    access = _token(stmarys, "carer.once@example.org", PASSWORD + "3").json()["access"]
    assert _me(stmarys, access) == ["Ines Portal"]  # their own record only


def test_a_carer_does_not_change_the_contact_details_of_a_patient_with_their_own_account(stmarys, mailoutbox):
    adult = _patient(stmarys, email="adult.self@example.org")
    _account_for(stmarys, mailoutbox, adult)
    with schema_context(stmarys.schema):
        carer = User.objects.create_user(username="carer.two@example.org", role=Role.PATIENT, password=PASSWORD)
        portal_link(account=carer, patient=adult, relationship="carer", linked_by=stmarys.user(Role.RECEPTIONIST))
    carer_app = stmarys.api(carer)

    redirected = carer_app.patch(
        f"/api/portal/patients/{adult.pk}/", {"email": "carer.two@example.org"}, content_type="application/json"
    )
    log = stmarys.api(User.objects.get(username="adult.self@example.org")).get(
        "/api/portal/access-log/", {"patient": str(adult.pk)}
    )

    assert redirected.status_code == 403
    with schema_context(stmarys.schema):
        assert Patient.objects.get(pk=adult.pk).email == "adult.self@example.org"
    assert "carer.two" not in log.content.decode()  # refused: nothing was done


def test_a_linked_accounts_changes_show_in_the_patients_access_log(stmarys, mailoutbox):
    child = register(stmarys, full_name="Log Child", date_of_birth="2017-07-07")
    with schema_context(stmarys.schema):
        desk = stmarys.user(Role.RECEPTIONIST)
        mother = User.objects.create_user(username="log.mother@example.org", role=Role.PATIENT, password=PASSWORD)
        father = User.objects.create_user(username="log.father@example.org", role=Role.PATIENT, password=PASSWORD)
        for parent in (mother, father):
            portal_link(account=parent, patient=Patient.objects.get(pk=child["id"]), relationship="parent",
                        linked_by=desk)  # fmt: skip

    changed = stmarys.api(father).patch(
        f"/api/portal/patients/{child['id']}/", {"address": "1 New Street"}, content_type="application/json"
    )
    mothers_view = stmarys.api(mother).get("/api/portal/access-log/", {"patient": child["id"]}).json()["items"]
    fathers_view = stmarys.api(father).get("/api/portal/access-log/", {"patient": child["id"]}).json()["items"]

    assert changed.status_code == 200
    assert [(e["role"], e["action"]) for e in mothers_view if e["role"] == Role.PATIENT] == [("patient", "update")]
    assert [e for e in fathers_view if e["role"] == Role.PATIENT] == []  # one's own changes are known
