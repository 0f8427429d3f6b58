"""Booking in Chromium: the desk books from the slot picker, the doctor finds the visit on their
day, the desk cancels it and the time is offered again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import Role
from clinical.models import Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment, WorkingHours
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.conftest import email_of
from tests.scheduling.conftest import next_weekday

pytestmark = pytest.mark.browser


def test_the_desk_books_from_the_slot_picker_the_doctor_sees_it_and_a_cancel_frees_it(page, browser, url, committed):
    stmarys = committed.branch("stmarys")
    day = next_weekday(1, after=timezone.localdate() + dt.timedelta(days=7))
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        hours = WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(11))
        treatment = Treatment.objects.create(name="Browser consultation", code="BRW", duration_minutes=30)
        patient = Patient.objects.create(
            mrn="BRW0001",
            full_name="Ottoline Birch",
            name_search="ottoline birch",
            gender="female",
            date_of_birth=dt.date(1966, 3, 4),
        )

    def remove() -> None:
        with schema_context(stmarys.schema):
            Appointment.objects.filter(patient=patient).delete()
            PatientUserObjectPermission.objects.filter(content_object=patient).delete()
            patient.delete()
            treatment.delete()
            hours.delete()

    committed.cleanup(remove)
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    picker = f"/appointments/book/?patient={patient.pk}&doctor={doctor.pk}&treatment={treatment.pk}&date={day}"

    # the desk: the free times of the day, one chosen, booked
    page.goto(url("stmarys", picker))
    slots = page.locator("#slots label.slot")
    assert slots.all_inner_texts() == ["09:00", "09:30", "10:00", "10:30"]
    page.get_by_text("09:30", exact=True).click()
    screenshot(page, "booking-slot-picker")
    with page.expect_navigation():
        page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator("main .alert-success")).to_contain_text("Ottoline Birch is booked for")
    visit = page.locator(".cal-visit", has_text="Ottoline Birch")
    expect(visit).to_contain_text("09:30\u201310:00")
    screenshot(page, "booking-calendar")

    # the doctor: the visit on their day
    doctor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    doctor_page = doctor_context.new_page()
    _sign_in(doctor_page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    doctor_page.goto(url("stmarys", f"/my-day/?date={day}"))
    row = doctor_page.locator("#my-day tbody tr", has_text="Ottoline Birch")
    expect(row).to_contain_text("09:30")
    expect(row).to_contain_text("Browser consultation")
    screenshot(doctor_page, "booking-doctor-day")
    doctor_context.close()

    # the desk cancels from the calendar, with a reason; the time is offered again
    visit.get_by_role("button", name="Actions for Ottoline Birch").click()
    visit.get_by_label("Reason for cancelling").fill("Patient phoned to cancel")
    with page.expect_navigation():
        visit.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator("main .alert-success")).to_contain_text("the slot is free again")
    expect(page.locator(".cal-visit", has_text="Ottoline Birch")).to_have_count(0)
    page.goto(url("stmarys", picker))
    assert page.locator("#slots label.slot").all_inner_texts() == ["09:00", "09:30", "10:00", "10:30"]
    with schema_context(stmarys.schema):
        cancelled = Appointment.objects.get(patient=patient)
        assert cancelled.status == Appointment.Status.CANCELLED
        assert cancelled.cancel_reason == "Patient phoned to cancel"
