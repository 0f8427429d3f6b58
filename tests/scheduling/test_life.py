"""The life of an appointment: moved in one step, checked in, completed or a no-show, and the
visits caught by a doctor's leave moved or cancelled with each patient told."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from accounts.models import Role
from clinical.models import AuditEvent, Treatment
from core.branch import branch_today
from core.errors import DomainError
from scheduling.models import Appointment, WorkingHours
from scheduling.services import (
    LeaveDecision,
    Override,
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_complete,
    appointment_no_show,
    appointment_reschedule,
    leave_add,
    leave_appointments,
    leave_settle,
)
from scheduling.tasks import send_appointment_notice
from tests.clinical.conftest import post
from tests.scheduling.conftest import LONDON, at, next_weekday
from workers.models import OutboxMessage

pytestmark = pytest.mark.django_db


def booked(clinic, start: dt.datetime, patient: str = "first", override: Override | None = None, **more):
    return appointment_book(
        patient=clinic[patient],
        doctor=more.pop("doctor", clinic["doctor"]),
        treatment=more.pop("treatment", clinic["treatment"]),
        start=start,
        booked_by=clinic["desk"],
        override=override,
    )


def test_a_move_into_a_taken_slot_keeps_the_old_place(clinic):
    day = next_weekday(1)
    mine = booked(clinic, at(day, 9))
    booked(clinic, at(day, 10), patient="second")

    with pytest.raises(DomainError) as taken:
        appointment_reschedule(appointment=mine, start=at(day, 10), moved_by=clinic["desk"])
    mine.refresh_from_db()
    moved = appointment_reschedule(appointment=mine, start=at(day, 10, 15), moved_by=clinic["desk"])

    assert taken.value.kind == "conflict"
    assert taken.value.extra["taken_by"] == "doctor"
    assert mine.start == at(day, 9)
    assert mine.status == Appointment.Status.BOOKED
    assert moved.start == at(day, 10, 15)
    assert Appointment.objects.filter(patient=clinic["first"]).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RESCHEDULE, patient_id=clinic["first"].pk).count() == 1


def test_a_long_visit_moves_into_a_range_overlapping_its_own_old_place(clinic):
    day = next_weekday(2)
    long = Treatment.objects.create(name="Long review", code="LONG", duration_minutes=30)
    visit = booked(clinic, at(day, 9), treatment=long)

    moved = appointment_reschedule(appointment=visit, start=at(day, 9, 30), moved_by=clinic["desk"])
    back = appointment_reschedule(appointment=moved, start=at(day, 9), moved_by=clinic["desk"])

    assert (moved.start, back.start) == (at(day, 9, 30), at(day, 9))


def test_a_move_to_another_doctor_assigns_them(clinic, stmarys, other_doctor):
    day = next_weekday(3)
    WorkingHours.objects.create(doctor=other_doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12))
    visit = booked(clinic, at(day, 9))

    appointment_reschedule(appointment=visit, start=at(day, 11), doctor=other_doctor, moved_by=clinic["desk"])
    profile = stmarys.api(other_doctor).get(f"/api/patients/{clinic['first'].pk}/")

    assert profile.status_code == 200


def test_check_in_on_the_day_then_the_doctor_completes(clinic, stmarys, other_doctor):
    today, tomorrow = branch_today(), branch_today() + dt.timedelta(days=1)
    visit = booked(clinic, at(today, 9), override=Override(reason="Entered at the desk"))
    later = booked(clinic, at(tomorrow, 9), patient="second")

    with pytest.raises(DomainError) as too_early:
        appointment_check_in(appointment=later, actor=clinic["desk"])
    with pytest.raises(DomainError) as not_arrived:
        appointment_complete(appointment=visit, actor=clinic["doctor"])
    checked_in = appointment_check_in(appointment=visit, actor=clinic["desk"])
    with pytest.raises(DomainError) as not_theirs:
        appointment_complete(appointment=checked_in, actor=other_doctor)
    done = appointment_complete(appointment=checked_in, actor=clinic["doctor"])

    assert too_early.value.code == "not_today"
    assert not_arrived.value.code == "wrong_status"
    assert checked_in.status == Appointment.Status.CHECKED_IN
    assert checked_in.checked_in_at is not None
    assert not_theirs.value.kind == "forbidden"
    assert done.status == Appointment.Status.COMPLETED
    assert done.completed_at is not None


def test_a_no_show_only_once_the_time_has_come(clinic):
    yesterday = branch_today() - dt.timedelta(days=1)
    past = booked(clinic, at(yesterday, 9), override=Override(reason="Back-entry after the outage"))
    future = booked(clinic, at(next_weekday(4), 9), patient="second")

    with pytest.raises(DomainError) as early:
        appointment_no_show(appointment=future, actor=clinic["desk"])
    missed = appointment_no_show(appointment=past, actor=clinic["desk"])

    assert early.value.code == "not_started"
    assert missed.status == Appointment.Status.NO_SHOW
    # A no-show gives the place back: the slot can be booked again (back-entry).
    assert booked(clinic, at(yesterday, 9), patient="second", override=Override(reason="Back-entry again")).pk


def test_the_api_lets_a_doctor_complete_their_own_visit_and_see_no_one_elses(clinic, stmarys, other_doctor):
    visit = booked(clinic, at(branch_today(), 9), override=Override(reason="Entered at the desk"))
    desk = stmarys.api(clinic["desk"])
    doctor = stmarys.api(clinic["doctor"])

    checked_in = post(desk, f"/api/appointments/{visit.pk}/check-in/", {})
    by_other = post(stmarys.api(other_doctor), f"/api/appointments/{visit.pk}/complete/", {})
    by_desk = post(desk, f"/api/appointments/{visit.pk}/complete/", {})
    completed = post(doctor, f"/api/appointments/{visit.pk}/complete/", {})
    again = post(doctor, f"/api/appointments/{visit.pk}/complete/", {})

    assert checked_in.json()["status"] == "checked_in"
    assert by_other.status_code == 404  # another doctor's visit does not exist for them
    assert by_desk.status_code == 403
    assert completed.json()["status"] == "completed"
    assert again.status_code == 409
    assert again.json()["status"] == "completed"


def test_the_api_moves_a_visit_and_a_taken_time_is_409(clinic, stmarys):
    day = next_weekday(1)
    visit = booked(clinic, at(day, 9))
    booked(clinic, at(day, 9, 30), patient="second")
    desk = stmarys.api(clinic["desk"])

    taken = post(desk, f"/api/appointments/{visit.pk}/reschedule/", {"start": at(day, 9, 30).isoformat()})
    off_grid = post(desk, f"/api/appointments/{visit.pk}/reschedule/", {"start": at(day, 9, 40).isoformat()})
    moved = post(desk, f"/api/appointments/{visit.pk}/reschedule/", {"start": at(day, 11).isoformat()})

    assert taken.status_code == 409
    assert taken.json()["clash_start"] == "09:30"
    assert off_grid.status_code == 422
    assert off_grid.json()["detail"][0]["type"] == "off_grid"
    assert moved.status_code == 200
    assert moved.json()["start"].startswith(f"{day.isoformat()}T11:00:00")


def test_leave_over_booked_visits_lists_them_and_one_step_moves_or_cancels_each(clinic, stmarys, mailoutbox):
    day = next_weekday(0)
    clinic["first"].email = "first@example.org"
    clinic["first"].save()
    clinic["second"].email = "second@example.org"
    clinic["second"].save()
    staying = booked(clinic, at(day, 9))
    to_move = booked(clinic, at(day, 10), patient="second")
    to_cancel = booked(clinic, at(day, 11))
    admin = stmarys.user(Role.HOSPITAL_ADMIN)
    leave = leave_add(
        doctor=clinic["doctor"], starts_at=at(day, 10), ends_at=at(day, 12), reason="Conference", created_by=admin
    )

    caught = leave_appointments(leave)
    new_start = at(day + dt.timedelta(days=1), 9, 30)
    leave_settle(
        leave=leave,
        decisions=[LeaveDecision(to_move.pk, new_start), LeaveDecision(to_cancel.pk, None)],
        settled_by=admin,
    )
    notices = OutboxMessage.objects.filter(task_name="scheduling.send_appointment_notice").order_by("pk")
    for notice in notices:
        send_appointment_notice.apply(kwargs=notice.kwargs).get()

    assert [a.pk for a in caught] == [to_move.pk, to_cancel.pk]
    assert Appointment.objects.get(pk=staying.pk).start == at(day, 9)
    assert Appointment.objects.get(pk=to_move.pk).start == new_start
    assert Appointment.objects.get(pk=to_cancel.pk).status == Appointment.Status.CANCELLED
    assert [n.kwargs["change"] for n in notices] == ["moved", "cancelled"]
    moved_mail, cancelled_mail = sorted(mailoutbox, key=lambda m: m.to)[::-1]
    assert moved_mail.to == ["second@example.org"]
    assert new_start.astimezone(LONDON).strftime("%H:%M") in moved_mail.body
    assert clinic["doctor"].full_name in moved_mail.body
    assert "cancelled" in cancelled_mail.subject
    assert "Consultation" not in moved_mail.body + cancelled_mail.body  # no treatment in a message


def test_the_notice_of_a_cancelled_visit_is_in_the_patients_language(clinic, mailoutbox):
    clinic["first"].email, clinic["first"].preferred_language = "first@example.org", "ar"
    clinic["first"].save()
    visit = booked(clinic, at(next_weekday(0), 9))
    appointment_cancel(appointment=visit, cancelled_by=clinic["desk"], reason="Doctor away", notify=True)
    [notice] = OutboxMessage.objects.filter(task_name="scheduling.send_appointment_notice")

    send_appointment_notice.apply(kwargs=notice.kwargs).get()

    [mail] = mailoutbox
    assert mail.subject.startswith("تم إلغاء موعدك")


def test_one_refused_move_in_a_leave_changes_nothing(clinic, stmarys):
    day = next_weekday(0)
    first = booked(clinic, at(day, 10))
    second = booked(clinic, at(day, 10, 15), patient="second")
    admin = stmarys.user(Role.HOSPITAL_ADMIN)
    leave = leave_add(doctor=clinic["doctor"], starts_at=at(day, 10), ends_at=at(day, 11), reason="", created_by=admin)
    same_place = at(day + dt.timedelta(days=1), 9)

    with pytest.raises(DomainError) as refused:
        leave_settle(
            leave=leave,
            decisions=[LeaveDecision(first.pk, same_place), LeaveDecision(second.pk, same_place)],
            settled_by=admin,
        )

    assert refused.value.kind == "conflict"
    assert "Second Patient" in refused.value.message
    assert [a.start for a in Appointment.objects.order_by("start")] == [at(day, 10), at(day, 10, 15)]
    assert not OutboxMessage.objects.filter(task_name="scheduling.send_appointment_notice").exists()
    assert connection.schema_name == stmarys.schema


def test_a_refused_move_names_the_visit_in_the_way_not_itself(clinic):
    day = next_weekday(0)
    review = Treatment.objects.create(name="Review", code="REV", duration_minutes=30)
    moving = booked(clinic, at(day, 9), treatment=review)
    booked(clinic, at(day, 9, 30), patient="second")

    with pytest.raises(DomainError) as taken:
        appointment_reschedule(
            appointment=moving, start=at(day, 9, 15), moved_by=clinic["desk"], override=Override(reason="Off grid")
        )

    assert taken.value.extra == {"taken_by": "doctor", "clash_start": "09:30"}
