"""The scheduling pages as the desk and the doctors use them."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from accounts.models import Role
from clinical.models import TreatmentRecord
from core.branch import branch_today
from scheduling.models import Appointment, WorkingHours
from scheduling.services import Override, appointment_book
from tests.scheduling.conftest import at, next_weekday

pytestmark = pytest.mark.django_db


def slot_values(html: str) -> list[str]:
    return re.findall(r'name="slot" id="slot-\d+" value="([^"]+)"', html)


def test_the_desk_picks_a_free_slot_and_the_visit_shows_on_the_doctors_calendar(stmarys, clinic):
    day = next_weekday(1)
    desk = stmarys.client(clinic["desk"])
    query = {"patient": clinic["first"].pk, "doctor": clinic["doctor"].pk, "treatment": clinic["treatment"].pk}

    picker = desk.get("/appointments/book/", {**query, "date": day.isoformat()})
    slots = slot_values(picker.content.decode())
    booked = desk.post("/appointments/book/", {**query, "date": day.isoformat(), "slot": slots[2]})
    calendar = desk.get(booked["Location"])
    doctor_day = stmarys.client(clinic["doctor"]).get(f"/schedule/?date={day.isoformat()}")

    assert len(slots) == 12
    assert booked.status_code == 302
    assert Appointment.objects.get(patient=clinic["first"]).start == at(day, 9, 30)
    assert "First Patient" in calendar.content.decode()
    assert "First Patient" in doctor_day.content.decode()
    again = desk.get("/appointments/book/", {**query, "date": day.isoformat()})
    assert slots[2] not in slot_values(again.content.decode())


def test_a_slot_taken_meanwhile_is_reported_with_the_free_times_refreshed(stmarys, clinic):
    day = next_weekday(2)
    desk = stmarys.client(clinic["desk"])
    query = {"doctor": clinic["doctor"].pk, "treatment": clinic["treatment"].pk, "date": day.isoformat()}
    slots = slot_values(desk.get("/appointments/book/", {**query, "patient": clinic["first"].pk}).content.decode())
    appointment_book(
        patient=clinic["second"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 9),
        booked_by=clinic["desk"],
    )

    clash = desk.post("/appointments/book/", {**query, "patient": clinic["first"].pk, "slot": slots[0]})

    page = clash.content.decode()
    assert clash.status_code == 409
    assert "Taken meanwhile" in page
    assert "09:00" in page  # named in the message
    assert slots[0] not in slot_values(page)
    assert not Appointment.objects.filter(patient=clinic["first"]).exists()


def test_staff_override_outside_hours_needs_a_reason(stmarys, clinic):
    day = next_weekday(3)
    desk = stmarys.client(clinic["desk"])
    form = {
        "patient": clinic["first"].pk,
        "doctor": clinic["doctor"].pk,
        "treatment": clinic["treatment"].pk,
        "date": day.isoformat(),
        "override_time": "18:00",
    }

    no_reason = desk.post("/appointments/book/", {**form, "override_reason": "late"})
    with_reason = desk.post("/appointments/book/", {**form, "override_reason": "Seen after the clinic"})

    assert no_reason.status_code == 422
    assert "Say why" in no_reason.content.decode()
    assert with_reason.status_code == 302
    assert Appointment.objects.get(patient=clinic["first"]).override_reason == "Seen after the clinic"


def test_check_in_and_cancel_from_the_calendar(stmarys, clinic):
    today = branch_today()
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(today, 9),
        booked_by=clinic["desk"],
        override=Override(reason="Entered at the desk"),
    )
    desk = stmarys.client(clinic["desk"])
    here = f"/schedule/?doctor={clinic['doctor'].pk}&date={today.isoformat()}"

    calendar = desk.get(here).content.decode()
    checked_in = desk.post(f"/appointments/{visit.pk}/check-in/", {"next": here}, follow=True)
    cancelled = desk.post(f"/appointments/{visit.pk}/cancel/", {"next": here, "reason": "Felt better"}, follow=True)
    off_site = desk.post(f"/appointments/{visit.pk}/cancel/", {"next": "https://evil.example/", "reason": "x"})

    assert f'action="/appointments/{visit.pk}/check-in/"' in calendar
    assert "is checked in" in checked_in.content.decode()
    assert "slot is free again" in cancelled.content.decode()
    visit.refresh_from_db()
    assert visit.status == "cancelled"
    assert visit.cancel_reason == "Felt better"
    assert off_site["Location"].startswith("/schedule/")  # never sent off the branch's site


def test_a_doctor_cannot_book_or_cancel(stmarys, clinic):
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(next_weekday(1), 9),
        booked_by=clinic["desk"],
    )
    doctor = stmarys.client(clinic["doctor"])

    assert doctor.get("/appointments/book/").status_code == 403
    assert doctor.post(f"/appointments/{visit.pk}/cancel/", {"reason": "no"}).status_code == 403
    visit.refresh_from_db()
    assert visit.status == "booked"


def test_my_day_and_the_printed_list_show_the_doctors_visits(stmarys, clinic, other_doctor):
    day = next_weekday(4)
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )

    mine = stmarys.client(clinic["doctor"]).get(f"/my-day/?date={day.isoformat()}").content.decode()
    theirs = stmarys.client(other_doctor).get(f"/my-day/?date={day.isoformat()}").content.decode()
    printed = (
        stmarys.client(clinic["desk"])
        .get(f"/schedule/print/?doctor={clinic['doctor'].pk}&date={day.isoformat()}")
        .content.decode()
    )

    assert "First Patient" in mine
    assert "First Patient" not in theirs
    assert "First Patient" in printed
    assert clinic["first"].mrn in printed
    assert "10:00" in printed


def test_the_week_view_has_seven_days_and_marks_leave(stmarys, clinic):
    from scheduling.models import Leave

    monday = next_weekday(0)
    Leave.objects.create(doctor=clinic["doctor"], starts_at=at(monday, 11), ends_at=at(monday, 12))

    page = (
        stmarys.client(clinic["desk"])
        .get(f"/schedule/?doctor={clinic['doctor'].pk}&date={monday.isoformat()}&view=week")
        .content.decode()
    )

    header = page.split("<tbody>")[0]
    assert header.count('scope="col"') == 8  # the time column and seven days
    assert page.count("cal-leave") >= 4  # 11:00-12:00 in quarters, plus the legend


def test_the_home_page_shows_today_and_a_chart_of_the_days_around(stmarys, clinic):
    today = branch_today()
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(today, 9),
        booked_by=clinic["desk"],
        override=Override(reason="Entered at the desk"),
    )
    appointment_book(
        patient=clinic["second"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(today + dt.timedelta(days=3), 9),
        booked_by=clinic["desk"],
    )

    page = stmarys.client(clinic["desk"]).get("/").content.decode()

    bars = dict(re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', page))
    assert len(bars) == 29
    assert bars[today.isoformat()] == "1"
    assert bars[(today + dt.timedelta(days=3)).isoformat()] == "1"
    assert 'id="today-count">1<' in page


def test_a_follow_up_books_in_one_step_and_leaves_the_list(stmarys, clinic):
    day = next_weekday(2)
    record = TreatmentRecord.objects.create(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        visit_at=at(branch_today(), 9) - dt.timedelta(days=7),
        lineage=uuid.uuid4(),
        follow_up_on=day,
        follow_up_note="Review the wound",
    )
    desk = stmarys.client(clinic["desk"])

    listed = desk.get("/follow-ups/").content.decode()
    picker = desk.get("/appointments/book/", {"follow_up": record.pk, "date": day.isoformat()}).content.decode()
    booked = desk.post(
        "/appointments/book/",
        {
            "follow_up": record.pk,
            "doctor": clinic["doctor"].pk,
            "treatment": clinic["treatment"].pk,
            "date": day.isoformat(),
            "slot": slot_values(picker)[0],
        },
    )
    again = desk.get("/follow-ups/").content.decode()

    assert f"/appointments/book/?follow_up={record.pk}" in listed
    assert "Review the wound" in picker
    assert booked.status_code == 302
    assert Appointment.objects.get(patient=clinic["first"]).start == at(day, 9)
    assert str(record.pk) not in again


def test_the_admin_sets_hours_and_a_profile_and_a_bad_interval_is_422(stmarys, clinic):
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))
    form = {f"day_{d}": "" for d in range(7)} | {
        "specialty": "Cardiology",
        "registration_number": "GMC 1234567",
        "day_0": "08:30-12:00, 13:00-16:00",
        "day_3": "09:00-11:00\u060c 14:00-15:00",  # the comma of an Arabic keyboard
    }

    bad = admin.post(f"/doctors/{clinic['doctor'].pk}/", {**form, "day_1": "9 to 5"})
    overlapping = admin.post(f"/doctors/{clinic['doctor'].pk}/", {**form, "day_1": "09:00-12:00, 11:00-13:00"})
    saved = admin.post(f"/doctors/{clinic['doctor'].pk}/", form)
    listed = stmarys.api(clinic["desk"]).get("/api/doctors/", {"specialty": "cardiology"}).json()

    assert bad.status_code == 422
    assert "09:00-13:00" in bad.content.decode()
    assert overlapping.status_code == 422
    assert "must not overlap" in overlapping.content.decode()
    assert saved.status_code == 302
    assert [(h.weekday, h.starts, h.ends) for h in WorkingHours.objects.filter(doctor=clinic["doctor"])] == [
        (0, dt.time(8, 30), dt.time(12)),
        (0, dt.time(13), dt.time(16)),
        (3, dt.time(9), dt.time(11)),
        (3, dt.time(14), dt.time(15)),
    ]
    assert [d["id"] for d in listed] == [clinic["doctor"].pk]


def test_leave_over_booked_visits_leads_to_moving_them_in_one_step(stmarys, clinic):
    day = next_weekday(0)
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))

    added = admin.post(
        f"/doctors/{clinic['doctor'].pk}/leave/",
        {"starts_at": f"{day.isoformat()}T09:00", "ends_at": f"{day.isoformat()}T12:00", "reason": "Course"},
    )
    settle_page = admin.get(added["Location"]).content.decode()
    first_choice = re.search(r'<option value="([^"]+T[^"]+)"', settle_page).group(1)
    settled = admin.post(added["Location"], {f"decision_{visit.pk}": first_choice})

    assert added["Location"].startswith("/leave/")
    assert "First Patient" in settle_page
    assert settled.status_code == 302
    visit.refresh_from_db()
    assert visit.start == dt.datetime.fromisoformat(first_choice)
    assert visit.start.date() > day  # after the leave: the rest of that day is in it
