"""The front desk in Chromium: no match, register from the search, find again by phone."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import Role, User
from clinical import services
from clinical.models import Patient
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.conftest import email_of

pytestmark = pytest.mark.browser

NAME = "Philippa Tenterden"


def _remove_registered(branch) -> None:
    """The patient the browser registered (the audit trail keeps its rows: it is append-only)."""
    with schema_context(branch.schema):
        Patient.objects.filter(full_name=NAME).delete()


def test_a_receptionist_registers_from_a_failed_search_and_finds_the_patient_by_phone(page, url, committed):
    stmarys = committed.branch("stmarys")
    committed.cleanup(lambda: _remove_registered(stmarys))
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    page.goto(url("stmarys", "/patients/"))

    # the search box has the keyboard at once; results come as you type
    page.keyboard.type(NAME)
    no_match = page.locator("#no-match")
    expect(no_match).to_contain_text(f"No patient matches “{NAME}”")
    screenshot(page, "frontdesk-no-match")

    with page.expect_navigation():
        no_match.get_by_role("link", name="Register new patient").click()
    assert page.get_by_label("Full name").input_value() == NAME
    page.get_by_label("Gender").select_option("female")
    page.get_by_label("Date of birth").fill("1979-11-23")
    page.get_by_label("Phone", exact=True).fill("020 7946 0321")
    page.get_by_label("Allergies").fill("Penicillin: rash (severe)")
    screenshot(page, "frontdesk-register-filled")
    page.get_by_label("Phone", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter saves: no mouse needed

    main = page.locator("main").inner_text()
    assert "is registered with MRN" in main
    assert page.locator("#patient-name").inner_text() == NAME
    assert "Penicillin (severe)" in page.locator("#patient-allergies").inner_text()
    screenshot(page, "frontdesk-profile")

    # the same patient, found by the phone number typed the international way
    page.goto(url("stmarys", "/patients/"))
    page.keyboard.type("+44 20 7946 0321")
    expect(page.locator("#results-summary")).to_contain_text("1 patient matches")
    rows = page.locator("#patient-results-table tbody tr")
    assert rows.count() == 1
    assert NAME in rows.first.inner_text()
    screenshot(page, "frontdesk-found-by-phone")
    # one match: Enter opens the profile
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#patient-name").inner_text() == NAME
    assert re.search(r"/patients/[0-9a-f-]{36}/$", page.url)


def test_a_possible_duplicate_is_shown_and_only_the_button_registers_anyway(page, url, committed):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        existing = services.patient_register(
            actor=desk, data={"full_name": "Marguerite Okonjo", "gender": "female", "date_of_birth": "1960-02-02"}
        ).patient
    committed.cleanup(lambda: _remove_named(stmarys, "Marguerite Okonjo"))
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    page.goto(url("stmarys", "/patients/new/"))

    # the name has the keyboard as the page opens (typing before that lost letters on a busy CI)
    expect(page.get_by_label("Full name")).to_be_focused()
    page.keyboard.type("marguerite okonjo")
    expect(page.get_by_label("Full name")).to_have_value("marguerite okonjo")
    page.get_by_label("Gender").select_option("female")
    page.get_by_label("Date of birth").fill("1960-02-02")
    page.get_by_label("Full name").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    prompt = page.locator("#duplicate-prompt")
    expect(prompt).to_contain_text(existing.mrn)
    assert prompt.get_by_role("link", name="Open existing").get_attribute("href") == f"/patients/{existing.pk}/"
    screenshot(page, "frontdesk-duplicate-prompt")
    # Enter saves as usual (and is refused again): it never confirms a duplicate by accident
    page.get_by_label("Full name").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#duplicate-prompt")).to_be_visible()
    with schema_context(stmarys.schema):
        assert Patient.objects.filter(name_search="marguerite okonjo").count() == 1

    with page.expect_navigation():
        page.get_by_role("button", name="Register anyway").click()

    assert "is registered with MRN" in page.locator("main").inner_text()
    with schema_context(stmarys.schema):
        assert Patient.objects.filter(name_search="marguerite okonjo").count() == 2


def _remove_named(branch, name: str) -> None:
    with schema_context(branch.schema):
        Patient.objects.filter(name_search=name.lower()).delete()
