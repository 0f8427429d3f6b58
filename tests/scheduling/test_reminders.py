"""Appointment reminders, with `now` passed in: made once per visit, offset and channel (also
when two scans run at once), none for a cancelled or opted-out visit, quiet hours honoured,
sent in the branch's time without a word of the treatment."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role
from clinical.models import Patient, PatientUserObjectPermission, Treatment
from scheduling.models import Appointment, ReminderSend
from scheduling.reminders import reminder_send, reminder_time, reminders_scan
from scheduling.services import Override, appointment_book, appointment_cancel, appointment_reschedule
from tenants.models import Hospital
from tests.scheduling.conftest import LONDON, at, next_weekday

DAY = dt.timedelta(days=1)
TWO_HOURS = dt.timedelta(hours=2)
MINUTE = dt.timedelta(minutes=1)


def _by_email(patient: Patient, address: str) -> Patient:
    patient.contact_channel, patient.email = "email", address
    patient.save()
    return patient


def _by_sms(patient: Patient, phone: str) -> Patient:
    patient.contact_channel, patient.phone = "sms", phone
    patient.save()
    return patient


def _book(clinic, patient: str, start: dt.datetime) -> Appointment:
    return appointment_book(
        patient=clinic[patient],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=start,
        booked_by=clinic["desk"],
    )


@pytest.mark.django_db
def test_each_offset_is_made_once_and_none_for_a_cancelled_or_opted_out_visit(clinic):
    day = next_weekday(2)
    _by_email(clinic["first"], "first@example.org")
    _by_sms(clinic["second"], "+447700900123")
    visit = _book(clinic, "first", at(day, 10))
    cancelled = _book(clinic, "second", at(day, 10, 30))
    appointment_cancel(appointment=cancelled, cancelled_by=clinic["desk"], reason="Phoned")
    third = Patient.objects.create(
        mrn="OPT0001",
        full_name="Opted Out",
        name_search="opted out",
        gender="other",
        date_of_birth=dt.date(1990, 1, 1),
        email="out@example.org",
        contact_channel="email",
        reminders_opt_out=True,
    )
    appointment_book(
        patient=third,
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 11),
        booked_by=clinic["desk"],
    )

    early = reminders_scan(now=at(day, 10) - DAY - MINUTE)
    day_before = reminders_scan(now=at(day, 10) - DAY + MINUTE)
    again = reminders_scan(now=at(day, 10) - DAY + 2 * MINUTE)
    two_hours = reminders_scan(now=at(day, 10) - TWO_HOURS + MINUTE)

    assert (early, day_before, again, two_hours) == (0, 1, 0, 1)
    assert sorted(ReminderSend.objects.values_list("appointment_id", "offset_minutes", "channel")) == [
        (visit.pk, 120, "email"),
        (visit.pk, 1440, "email"),
    ]


@pytest.mark.django_db
def test_the_email_is_in_the_branchs_time_with_a_calendar_file_and_no_treatment(clinic, mailoutbox):
    day = next_weekday(3)
    _by_email(clinic["first"], "first@example.org")
    _book(clinic, "first", at(day, 9, 45))
    reminders_scan(now=at(day, 9, 45) - DAY + MINUTE)
    [send] = ReminderSend.objects.all()

    assert reminder_send(send.pk) == "sent"
    assert reminder_send(send.pk) == "not pending"  # a re-delivered task sends nothing

    [mail] = mailoutbox
    html = mail.alternatives[0][0]
    name, ics, kind = mail.attachments[0]
    assert mail.to == ["first@example.org"]
    assert "St Mary's Hospital" in mail.subject  # as written, not HTML-escaped
    assert "09:45" in mail.body
    assert "09:45" in html
    assert clinic["doctor"].full_name in mail.body
    assert (name, kind) == ("appointment.ics", "text/calendar")
    start_utc = at(day, 9, 45).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start_utc}" in ics
    assert "Consultation" not in mail.body + html + ics + mail.subject


@pytest.mark.django_db
def test_a_text_message_goes_through_the_sms_backend(clinic, stmarys, settings, tmp_path):
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    # the sender and template registered for the branch (India's DLT asks both of each message)
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(
        sms_sender_id="STMARY", sms_template_ids={"reminder": "1107161234567890123"}
    )
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    day = next_weekday(4)
    _by_sms(clinic["second"], "+447700900123")
    _book(clinic, "second", at(day, 11, 0))
    clinic["doctor"].full_name = "Dr Grace Hopper"
    clinic["doctor"].save()
    reminders_scan(now=at(day, 11) - TWO_HOURS + MINUTE)
    [send] = ReminderSend.objects.all()  # booked before both were due: the latest only, not two at once

    reminder_send(send.pk)

    [message] = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert message["to"] == "+447700900123"
    assert (message["sender_id"], message["template_id"]) == ("STMARY", "1107161234567890123")
    assert "11:00" in message["body"]
    assert "St Mary's Hospital" in message["body"]  # as written, not HTML-escaped
    assert "Consultation" not in message["body"]


@pytest.mark.django_db
def test_a_failed_send_keeps_its_reason_and_goes_once_when_retried(clinic, settings, tmp_path):
    # the text-message spool cannot be written: its folder is a file
    blocked = tmp_path / "spool"
    blocked.write_text("")
    settings.SMS_FILE_PATH = str(blocked / "sms.jsonl")
    day = next_weekday(4)
    _by_sms(clinic["second"], "+447700900123")
    _book(clinic, "second", at(day, 11, 0))
    reminders_scan(now=at(day, 11) - TWO_HOURS + MINUTE)
    [send] = ReminderSend.objects.all()

    with pytest.raises(FileExistsError):
        reminder_send(send.pk)  # the task retries on OSError
    send.refresh_from_db()
    assert (send.status, send.attempts) == ("pending", 1)
    assert "FileExistsError" in send.last_error

    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    assert reminder_send(send.pk) == "sent"
    assert reminder_send(send.pk) == "not pending"  # delivered twice by the broker: sent once
    assert len((tmp_path / "sms.jsonl").read_text().splitlines()) == 1
    send.refresh_from_db()
    assert (send.status, send.attempts, send.last_error) == ("sent", 2, "")


@pytest.mark.django_db
def test_a_visit_moved_or_cancelled_after_its_reminder_was_made_gets_none(clinic, mailoutbox):
    day = next_weekday(1)
    _by_email(clinic["first"], "first@example.org")
    _by_email(clinic["second"], "second@example.org")
    moved = _book(clinic, "first", at(day, 10))
    cancelled = _book(clinic, "second", at(day, 11))
    reminders_scan(now=at(day, 10) - DAY + MINUTE)
    reminders_scan(now=at(day, 11) - DAY + MINUTE)
    appointment_reschedule(appointment=moved, start=at(day, 11, 30), moved_by=clinic["desk"])
    appointment_cancel(appointment=cancelled, cancelled_by=clinic["desk"], reason="Better")

    statuses = [reminder_send(send.pk) for send in ReminderSend.objects.order_by("pk")]

    assert statuses == ["skipped", "skipped"]
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_reminder_in_quiet_hours_goes_out_before_they_start(clinic, stmarys):
    day = next_weekday(2)
    _by_email(clinic["first"], "first@example.org")
    visit = appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 7, 30),
        booked_by=clinic["desk"],
        override=Override("Early list"),
    )
    evening_before = at(day - DAY, 20, 45)  # quiet hours 21:00-08:00: 05:30 moves to before 21:00

    due = reminder_time(visit_start=visit.start, offset=TWO_HOURS, branch=stmarys.hospital)
    before = reminders_scan(now=evening_before - MINUTE)
    then = reminders_scan(now=evening_before + MINUTE)

    assert due.astimezone(LONDON) == evening_before
    assert before == 1  # the day-before one (07:30 yesterday) only
    assert then == 1
    assert ReminderSend.objects.filter(appointment=visit, offset_minutes=120).get().due_at == evening_before


def test_two_scans_at_once_in_two_branches_make_each_reminder_once(committed):
    """Beat doubled, or two workers: the scans of a branch race; the constraint decides."""
    start = dt.datetime.combine(timezone.localdate() + dt.timedelta(days=9), dt.time(12), tzinfo=dt.UTC)
    made = {}
    for slug in ("stmarys", "riverside"):
        branch = committed.branch(slug)
        with schema_context(branch.schema):
            connection.set_tenant(branch.hospital)
            treatment = Treatment.objects.create(name=f"Race {slug}", code=f"RC{slug[:3].upper()}", duration_minutes=15)
            patient = Patient.objects.create(
                mrn=f"RACE-{slug}",
                full_name="Racing Reminder",
                name_search="racing reminder",
                gender="other",
                date_of_birth=dt.date(1980, 1, 1),
                email="race@example.org",
                contact_channel="email",
            )
            appointment = Appointment.objects.create(
                patient=patient,
                doctor=branch.user(Role.DOCTOR),
                treatment=treatment,
                start=start,
                end=start + dt.timedelta(minutes=15),
            )
            made[slug] = (branch, treatment, patient, appointment)

    def remove() -> None:
        for branch, treatment, patient, appointment in made.values():
            with schema_context(branch.schema):
                ReminderSend.objects.filter(appointment=appointment).delete()
                appointment.delete()
                PatientUserObjectPermission.objects.filter(content_object=patient).delete()
                patient.delete()
                treatment.delete()

    committed.cleanup(remove)
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def scan(branch) -> None:
        with schema_context(branch.schema):
            connection.set_tenant(branch.hospital)
            barrier.wait()
            counts.append(reminders_scan(now=start - TWO_HOURS + MINUTE))
        connection.close()

    threads = [threading.Thread(target=scan, args=(b,)) for b, *_ in made.values() for _twice in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 2  # in each branch: the two-hours reminder, once
    for branch, _treatment, _patient, appointment in made.values():
        with schema_context(branch.schema):
            assert list(ReminderSend.objects.filter(appointment=appointment).values_list("offset_minutes")) == [(120,)]


@pytest.mark.django_db
def test_the_desk_records_how_a_patient_hears_from_the_branch(stmarys):
    from tests.clinical.conftest import patch, register

    patient = register(
        stmarys, full_name="Chosen Channel", email="cc@example.org", reminders={"channel": "email", "language": "ar"}
    )
    desk = stmarys.api(stmarys.user(Role.RECEPTIONIST))
    bad = patch(desk, f"/api/patients/{patient['id']}/", {"reminders": {"language": "xx"}})
    opted_out = patch(desk, f"/api/patients/{patient['id']}/", {"reminders": {"opt_out": True}})
    page = stmarys.client(stmarys.user(Role.RECEPTIONIST)).post(
        f"/patients/{patient['id']}/edit/",
        {
            "full_name": "Chosen Channel",
            "gender": "female",
            "date_of_birth": "1990-04-02",
            "email": "cc@example.org",
            "reminder_channel": "sms",
            "preferred_language": "",
            "phone": "020 7946 0999",
        },
    )

    assert patient["reminders"] == {"channel": "email", "language": "ar", "opt_out": False}
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "reminders", "language"]
    assert opted_out.json()["reminders"]["opt_out"] is True
    assert page.status_code == 302
    with schema_context(stmarys.schema):
        stored = Patient.objects.get(pk=patient["id"])
        assert (stored.contact_channel, stored.preferred_language, stored.reminders_opt_out) == ("sms", "", False)


@pytest.mark.django_db
def test_a_booking_is_confirmed_once_to_a_patient_who_can_be_reached(clinic, mailoutbox):
    from scheduling.reminders import confirmation_send
    from workers.models import OutboxMessage

    day = next_weekday(1)
    _by_email(clinic["first"], "first@example.org")
    reachable = _book(clinic, "first", at(day, 9))
    unreachable = _book(clinic, "second", at(day, 9, 30))  # no e-mail, no phone: nothing to send

    queued = OutboxMessage.objects.filter(task_name="scheduling.send_confirmation")
    assert [m.kwargs["appointment_id"] for m in queued] == [str(reachable.pk)]
    assert confirmation_send(str(reachable.pk)) is True
    assert confirmation_send(str(reachable.pk)) is False  # a re-delivered task sends nothing
    assert confirmation_send(str(unreachable.pk)) is False
    [mail] = mailoutbox
    assert "is booked for" in mail.body
    assert "09:00" in mail.body
    assert "Consultation" not in mail.body
