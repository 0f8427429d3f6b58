"""The portal card on a patient's profile in Chromium: the desk invites, sees the state change in
place, withdraws; a patient without an address gets the message in the card."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical import services
from clinical.models import Patient
from portal.models import PatientLink, PortalInvite
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.conftest import email_of

pytestmark = pytest.mark.browser


def _patient(committed, full_name: str, **contact) -> Patient:
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        patient = services.patient_register(
            actor=desk,
            data={"full_name": full_name, "gender": "female", "date_of_birth": "1988-08-08", **contact},
            confirm_new=True,
        ).patient

    def remove() -> None:
        with schema_context(stmarys.schema):
            PortalInvite.objects.filter(patient=patient).delete()
            Patient.objects.filter(pk=patient.pk).delete()

    committed.cleanup(remove)
    return patient


def test_the_desk_invites_and_withdraws_from_the_profile(page, url, committed):
    patient = _patient(committed, "Paloma Portal", email="paloma@example.org")
    bare = _patient(committed, "Nadia Noaddress")
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))

    page.goto(url("stmarys", f"/patients/{patient.pk}/"))
    card = page.locator("#portal-card")
    page.get_by_role("button", name="Invite to the portal").click()
    page.locator("#portal-invite").wait_for()
    assert "Invitation" in card.inner_text()
    screenshot(page, "portal-card-invited")
    page.get_by_role("button", name="Withdraw").click()
    page.locator('#portal-invite[data-state="revoked"]').wait_for()
    assert page.get_by_role("button", name="Invite to the portal").is_visible()

    page.goto(url("stmarys", f"/patients/{bare.pk}/"))
    page.get_by_role("button", name="Invite to the portal").click()
    page.get_by_text("add one first").wait_for()
    screenshot(page, "portal-card-no-address")


def test_the_desk_links_a_parents_account_to_a_child_and_unlinks_it(page, url, committed):
    child = _patient(committed, "Tamsin Young")
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        parent = User.objects.create_user(username="parent.young@example.org", role=Role.PATIENT, password="p" * 20)

    def remove() -> None:
        with schema_context(stmarys.schema):
            PatientLink.objects.filter(account=parent).delete()
            parent.delete()

    committed.cleanup(remove)
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    page.goto(url("stmarys", f"/patients/{child.pk}/"))
    card = page.locator("#portal-card")

    card.get_by_text("Link an existing portal account").click()
    card.get_by_label("Their e-mail or phone number").fill("nobody@example.org")
    card.get_by_role("button", name="Find", exact=True).click()
    card.get_by_text("No active patient account").wait_for()
    # the form stays open after a refusal, to correct what was typed
    card.get_by_label("Their e-mail or phone number").fill("parent.young@example.org")
    card.get_by_label("They are the patient's").select_option("parent")
    card.get_by_role("button", name="Find", exact=True).click()
    # whose account it is, before anything is linked
    page.locator("#portal-link-candidate").wait_for()
    assert "has no record of its own here" in page.locator("#portal-link-candidate").inner_text()
    screenshot(page, "portal-card-link-confirm")
    card.get_by_role("button", name="Yes, link this account").click()
    page.locator(".portal-account", has_text="parent.young@example.org").wait_for()
    assert "Parent or guardian" in page.locator(".portal-account").inner_text()
    # a parent's account is not the patient's own: they may still be invited
    assert card.get_by_role("button", name="Invite to the portal").is_visible()
    screenshot(page, "portal-card-linked")

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Unlink").click()
    page.locator(".portal-account").wait_for(state="detached")
    with schema_context(stmarys.schema):
        assert not PatientLink.objects.filter(account=parent).exists()
