"""The patient portal's web pages in Chromium at a phone's size: a parent signs in, books a free
time for her child, downloads the child's prescription, and reads the pages in Arabic."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical import services
from clinical.models import PatientUserObjectPermission, Treatment
from clinical.tasks import prescription_render
from portal.models import PatientLink
from portal.services import portal_link
from scheduling.models import Appointment, WorkingHours
from tests.browser.conftest import screenshot
from tests.browser.test_doctor_screen import LINE, _remove
from tests.conftest import PASSWORD, email_of
from tests.scheduling.conftest import LONDON, next_weekday

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def family(committed):
    """A parent's account linked to her daughter's record, which has a prescription made; the
    doctor works 09:00-10:00 on the day, a 20-minute check."""
    stmarys = committed.branch("stmarys")
    day = next_weekday(2, after=timezone.localdate() + dt.timedelta(days=7))
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = User.objects.get(email=email_of(Role.DOCTOR, "stmarys"))
        desk = User.objects.get(email=email_of(Role.RECEPTIONIST, "stmarys"))
        hours = WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(10))
        treatment = Treatment.objects.create(name="Child check", code="KIDCHK", duration_minutes=20)
        child = services.patient_register(
            actor=desk,
            data={"full_name": "Mira Stone", "gender": "female", "date_of_birth": "2018-02-02"},
            confirm_new=True,
        ).patient
        services.patient_assign_doctor(patient=child, doctor=doctor, actor=desk)
        record = services.treatment_record_create(
            doctor=doctor,
            patient=child,
            data={"diagnosis": "Otitis media", "patient_advice": "Plenty of fluids.", "prescriptions": [LINE]},
        )
        prescription_render(str(record.prescription.pk))
        account = User.objects.create_user(username="mother.stone@example.org", role=Role.PATIENT, password=PASSWORD)
        portal_link(account=account, patient=child, relationship="parent", linked_by=desk)

    def remove() -> None:
        with schema_context(stmarys.schema):
            record.prescription.pdf_file.delete(save=False)
            Appointment.objects.filter(patient=child).delete()
            PatientLink.objects.filter(account=account).delete()
            PatientUserObjectPermission.objects.filter(content_object=child).delete()
            _remove(stmarys, child.pk)
            account.delete()
            treatment.delete()
            hours.delete()

    committed.cleanup(remove)
    return {"day": day, "child": child, "branch": stmarys}


def test_a_parent_books_for_her_child_and_downloads_the_prescription_on_a_phone(phone, url, family):
    page = phone
    page.goto(url("stmarys", "/portal/"))
    page.get_by_label("E-mail or phone number").fill("mother.stone@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    page.locator("#portal-record-name").wait_for()
    assert page.locator("#portal-record-name").inner_text() == "Mira Stone"
    assert "Otitis" not in page.content()  # the diagnosis is not the patient's reading
    # nothing is wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-phone-record")

    # book: the day, then one of its free times
    page.get_by_role("link", name="Book a visit").click()
    page.get_by_label("Day", exact=True).fill(family["day"].isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Show free times").click()
    assert page.locator("#portal-slots button").all_inner_texts() == ["09:00", "09:20", "09:40"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-phone-book")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^Book 09:20 on .+ with Doctor of stmarys$")).click()
    assert "Booked: Child check" in page.locator(".alert-success").inner_text()
    visit = page.locator(".portal-visit").first
    assert "09:20" in visit.inner_text()
    cancel = visit.get_by_role("button", name=re.compile(r"^Cancel the visit on .+ at 09:20$"))
    assert cancel.is_visible()
    screenshot(page, "portal-phone-booked")

    # the prescription, as a file
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
    assert download.value.suggested_filename.endswith(".pdf")

    with schema_context(family["branch"].schema):
        booked = Appointment.objects.get(patient=family["child"])
    assert booked.status == "booked"
    assert booked.start.astimezone(LONDON) == dt.datetime.combine(family["day"], dt.time(9, 20), tzinfo=LONDON)

    # cancelling asks first: "no" keeps the visit, "yes" cancels it
    page.once("dialog", lambda dialog: dialog.dismiss())
    cancel.click()
    assert page.locator(".portal-visit").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        cancel.click()
    assert "The visit is cancelled." in page.locator(".alert-success").inner_text()
    with schema_context(family["branch"].schema):
        booked.refresh_from_db()
    assert booked.status == "cancelled"


def test_the_portal_reads_right_to_left_in_arabic_on_a_phone(phone, url, family):
    page = phone
    page.goto(url("stmarys", "/portal/login/"))
    page.get_by_label("Language").select_option("ar")
    with page.expect_navigation():
        page.get_by_role("button", name="Change").click()
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.locator("#id_username").fill("mother.stone@example.org")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("#portal-login-form button[type=submit]").click()
    page.locator("#portal-record-name").wait_for()
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-phone-arabic")
