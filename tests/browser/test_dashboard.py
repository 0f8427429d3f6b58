"""What a member of staff sees in Chromium."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, email_of

pytestmark = pytest.mark.browser


def _sign_in(page, url, slug: str, email: str, password: str = PASSWORD) -> None:
    page.goto(url(slug, "/accounts/login/"))
    page.get_by_label("Username or e-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # keyboard-first: no mouse needed


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (
            Role.HOSPITAL_ADMIN,
            ["Home", "Queue", "Schedule", "Patients", "Follow-ups", "Administration"],
        ),
        (Role.DOCTOR, ["Home", "My day", "My queue", "Schedule", "Patients"]),
        (Role.RECEPTIONIST, ["Home", "Queue", "Schedule", "Patients", "Follow-ups"]),
    ],
)
def test_staff_sign_in_and_see_their_roles_navigation(page, url, role, links):
    _sign_in(page, url, "stmarys", email_of(role, "stmarys"))

    assert page.url == url("stmarys", "/")
    assert page.locator("#main-nav > li > a").all_inner_texts() == links
    assert "St Mary's Hospital" in page.locator(".navbar-brand").inner_text()
    assert str(role.label) in page.locator("#signed-in-as").inner_text()
    if "Administration" in links:
        page.get_by_role("button", name="Administration").click()
        menu = page.locator("#main-nav .dropdown-menu a")
        menu.first.wait_for(state="visible")
        assert menu.all_inner_texts() == [
            "Doctors and hours",
            "Treatments",
            "Break-glass review",
            "Audit trail",
            "Staff",
            "Security log",
            "Reminders and printing",
            "Queue rules",
        ]
    screenshot(page, f"home-{role}")


def test_a_stmarys_user_cannot_sign_in_on_riverside(page, url):
    _sign_in(page, url, "riverside", email_of(Role.DOCTOR, "stmarys"))

    assert page.url.startswith(url("riverside", "/accounts/login/"))
    assert page.get_by_role("alert").is_visible()
    assert page.locator("#main-nav").count() == 0
    screenshot(page, "riverside-refuses-stmarys-user")


def test_arabic_lays_the_dashboard_out_right_to_left(page, url, committed):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        User.objects.filter(email=email_of(Role.DOCTOR, "stmarys")).update(preferred_language="ar")
    committed.cleanup(lambda: _reset_language(stmarys.schema))

    _sign_in(page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))

    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ar"
    brand = page.locator(".navbar-brand").bounding_box()
    assert brand["x"] > 1280 / 2, "in a right-to-left layout the brand sits on the right"
    screenshot(page, "home-arabic-rtl")


def _reset_language(schema: str) -> None:
    with schema_context(schema):
        User.objects.filter(email=email_of(Role.DOCTOR, "stmarys")).update(preferred_language="")


def test_the_idle_warning_offers_to_stay_signed_in(page, impatient_web_server):
    def url(slug, path="/"):
        return f"http://{slug}.localhost:{impatient_web_server}{path}"

    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))

    # with one idle minute, the warning shows at once
    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible", timeout=5000)
    assert "You will be signed out in" in warning.inner_text()
    screenshot(page, "idle-warning")

    # "Stay signed in" renews the session on the server
    page.wait_for_timeout(3000)
    with page.expect_response(lambda r: r.url.endswith("/accounts/keepalive/")) as answer:
        page.get_by_role("button", name="Stay signed in").click()
    assert answer.value.status == 200
    assert answer.value.json() == {"seconds_left": 60}


def test_an_idle_session_ends_on_screen(page, impatient_web_server):
    def url(slug, path="/"):
        return f"http://{slug}.localhost:{impatient_web_server}{path}"

    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))

    page.wait_for_url("**/accounts/login/**", timeout=75_000)

    assert "signed out after 1 minute without activity" in page.content()
    assert page.locator("#main-nav").count() == 0
