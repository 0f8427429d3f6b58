"""The day's queue in Chromium: the desk checks in a booked patient and adds a walk-in (its token
slip printed), the doctor presses "Call next" twice and lands on each patient's record, and the
waiting-room board, open on its own screen, shows the called token without being reloaded."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical import services
from clinical.models import Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment, QueueCounter, QueueEntry, QueueEvent
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard import _sign_in
from tests.conftest import email_of
from tests.scheduling.test_queue import BRANCH_ZONE, _day_hours

pytestmark = pytest.mark.browser


@pytest.fixture
def morning(committed):
    """A doctor seeing patients all day today, a booked patient whose time has come, and a
    patient who walks in."""
    # The browser's server keeps the real clock (the ten_oclock fixture cannot reach it), and the
    # test takes about half a minute: begun just before midnight, the day's queue would change
    # under it. Within two minutes of midnight it waits for the new day (the visit is then made
    # at 00:00) rather than being left out.
    local = timezone.now().astimezone(BRANCH_ZONE)
    if local.time() >= dt.time(23, 58):
        next_day = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0, 5), tzinfo=BRANCH_ZONE)
        time.sleep((next_day - local).total_seconds())
        local = timezone.now().astimezone(BRANCH_ZONE)
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        desk = stmarys.user(Role.RECEPTIONIST)
        hours = _day_hours(doctor)
        treatment = Treatment.objects.create(name="Queue consultation", code="QCONS", duration_minutes=10)
        booked, walker = (
            services.patient_register(
                actor=desk,
                data={"full_name": name, "gender": "female", "date_of_birth": born},
                confirm_new=True,
            ).patient
            for name, born in (("Beatrice Booked", "1971-01-01"), ("Wanda Walker", "1982-02-02"))
        )
        midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=BRANCH_ZONE)
        start = max(timezone.now() - dt.timedelta(minutes=5), midnight)  # its time has come, today
        visit = Appointment.objects.create(
            patient=booked, doctor=doctor, treatment=treatment, start=start, end=start + dt.timedelta(minutes=10)
        )
        services.patient_assign_doctor(patient=booked, doctor=doctor, actor=desk)

    def remove() -> None:
        with schema_context(stmarys.schema):
            QueueEvent.objects.filter(entry__doctor=doctor).delete()
            QueueEntry.objects.filter(doctor=doctor).delete()
            QueueCounter.objects.filter(doctor=doctor).delete()
            Appointment.objects.filter(patient__in=[booked, walker]).delete()
            for patient in (booked, walker):
                PatientUserObjectPermission.objects.filter(content_object=patient).delete()
                Patient.objects.filter(pk=patient.pk).delete()
            treatment.delete()
            for interval in hours:
                interval.delete()

    committed.cleanup(remove)
    return {"doctor": doctor, "booked": booked, "walker": walker, "visit": visit, "branch": stmarys}


def test_the_desk_checks_in_and_adds_a_walk_in_the_doctor_calls_them_and_the_board_follows(page, browser, url, morning):
    doctor, booked, walker = morning["doctor"], morning["booked"], morning["walker"]
    today = timezone.localdate()

    # the desk checks the booked patient in from the day's schedule
    _sign_in(page, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    page.goto(url("stmarys", f"/schedule/?doctor={doctor.pk}&date={today}&view=day"))
    visit = page.locator(f'[data-appointment="{morning["visit"].pk}"]')
    visit.get_by_role("button", name="Actions for Beatrice Booked").click()
    with page.expect_navigation():
        visit.get_by_role("button", name="Check in").click()
    assert "Beatrice Booked is checked in: token B1." in page.locator(".alert-success").inner_text()

    # …and adds a walk-in from the patient's profile: the slip comes next
    page.goto(url("stmarys", f"/patients/{walker.pk}/"))
    page.get_by_role("link", name="Add to today's queue").click()
    page.get_by_label("Doctor").select_option(str(doctor.pk))
    page.get_by_label("For").select_option(label="Queue consultation")
    with page.expect_navigation():
        page.get_by_role("button", name="Add to the queue and print the token").click()
    assert page.locator("#slip-token").inner_text() == "W1"
    assert "Wanda" not in page.locator("body").inner_text()  # the slip names no one
    screenshot(page, "queue-slip")

    page.goto(url("stmarys", f"/queue/?doctor={doctor.pk}"))
    assert page.locator("#queue-waiting .queue-entry").evaluate_all("rows => rows.map(r => r.dataset.token)") == [
        "B1",
        "W1",
    ]
    screenshot(page, "queue-desk")

    # the waiting room's screen: opened once from the desk, then left alone
    board = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    _sign_in(board, url, "stmarys", email_of(Role.RECEPTIONIST, "stmarys"))
    board.goto(url("stmarys", page.locator("#queue-board-link").get_attribute("href")))
    board.wait_for_url("**/queue/board/*/")
    board_address = board.url
    board.context.clear_cookies()  # the screen keeps no one's session: the signed address is enough
    board.goto(board_address)
    board.evaluate("window.notReloaded = true")
    assert board.locator("[data-called]").first.get_attribute("data-called") == ""

    # the doctor calls next: the first patient's record opens
    doctor_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(doctor_page, url, "stmarys", email_of(Role.DOCTOR, "stmarys"))
    doctor_page.goto(url("stmarys", "/queue/mine/"))
    with doctor_page.expect_navigation():
        doctor_page.get_by_role("button", name="Call next").click()
    assert doctor_page.url.endswith(f"/patients/{booked.pk}/record/")
    assert "Token B1 is called." in doctor_page.locator(".alert-success").inner_text()

    # …and again: the first is seen, the walk-in's record opens
    doctor_page.goto(url("stmarys", "/queue/mine/"))
    screenshot(doctor_page, "queue-doctor")
    with doctor_page.expect_navigation():
        doctor_page.get_by_role("button", name="Call next").click()
    assert doctor_page.url.endswith(f"/patients/{walker.pk}/record/")

    # the board shows W1 called, without having been reloaded, and no name
    board.locator('[data-called="W1"]').wait_for(timeout=15_000)
    assert board.evaluate("window.notReloaded") is True
    assert "Wanda" not in board.locator("body").inner_text()
    assert "Beatrice" not in board.locator("body").inner_text()
    screenshot(board, "queue-board")
    with schema_context(morning["branch"].schema):
        states = dict(QueueEntry.objects.filter(doctor=doctor).values_list("token", "state"))
    assert states == {"B1": "done", "W1": "called"}
