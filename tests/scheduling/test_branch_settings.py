"""A branch's admins set its reminders, quiet hours, text-message ids and whether the desk prints
prescriptions; the reminder scan follows what they set, and bad input changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, SecurityEvent
from scheduling.reminders import reminders_scan
from scheduling.services import appointment_book
from tenants.models import Hospital
from tests.scheduling.conftest import at, next_weekday

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
VALID = {
    "reminder_offsets": "24, 2",
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "08:00",
    "portal_cancel_hours": "24",
}


def _saved(branch) -> tuple:
    with schema_context("public"):
        hospital = Hospital.objects.get(pk=branch.hospital.pk)
        return (
            hospital.reminder_offsets_minutes,
            hospital.quiet_hours_start,
            hospital.quiet_hours_end,
            hospital.sms_sender_id,
            hospital.sms_template_ids,
            hospital.desk_prints_prescriptions,
            hospital.portal_cancel_hours,
            hospital.portal_names_staff,
        )


def test_an_admin_sets_the_reminders_and_the_scan_follows_them(clinic, stmarys):
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))

    response = admin.post(
        "/settings/",
        {
            "reminder_offsets": "3",
            "quiet_hours_start": "23:00",
            "quiet_hours_end": "06:00",
            "sms_sender_id": "STMARY",
            "sms_template_reminder": "1107161234567890123",
            "desk_prints_prescriptions": "on",
            "portal_cancel_hours": "6",
            "portal_names_staff": "on",
        },
    )

    assert response.status_code == 302
    page = admin.get("/settings/").content.decode()
    assert 'value="3"' in page
    assert 'value="1107161234567890123"' in page
    assert "Branch settings changed" in admin.get("/security-log/").content.decode()
    with schema_context(stmarys.schema):
        [event] = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SETTINGS_CHANGED)
        assert event.address == "127.0.0.1"
        assert event.detail["changed"]["reminder_offsets_minutes"] == ["[1440, 120]", "[180]"]
    assert _saved(stmarys) == (
        [180],
        dt.time(23),
        dt.time(6),
        "STMARY",
        {"reminder": "1107161234567890123"},
        True,
        6,
        True,
    )
    # the scan reads them: one reminder three hours before, none two hours before any more
    clinic["first"].contact_channel, clinic["first"].email = "email", "first@example.org"
    clinic["first"].save()
    day = next_weekday(2)
    appointment_book(
        patient=clinic["first"],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=at(day, 10),
        booked_by=clinic["desk"],
    )
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    assert reminders_scan(now=at(day, 10) - dt.timedelta(hours=3) - MINUTE) == 0
    assert reminders_scan(now=at(day, 10) - dt.timedelta(hours=3) + MINUTE) == 1
    assert reminders_scan(now=at(day, 10) - dt.timedelta(hours=2) + MINUTE) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reminder_offsets", "tomorrow"),
        ("reminder_offsets", "0.1"),  # six minutes
        ("reminder_offsets", "400"),  # more than two weeks
        ("reminder_offsets", "24, 24"),
        ("reminder_offsets", "48, 24, 12, 6, 2"),
        ("reminder_offsets", "nan"),
        ("reminder_offsets", "1e400"),
        ("quiet_hours_start", "25:00"),
        ("quiet_hours_start", "21:00+05:30"),  # an offset: the branch's own time is meant
        ("quiet_hours_start", "21:00\x00junk"),
        ("quiet_hours_end", "\u0660\u0668:\u0660\u0660"),  # Arabic-Indic digits: a time input sends 08:00
        ("quiet_hours_end", ""),
        ("sms_sender_id", "ST MARY'S!"),
        ("sms_template_reminder", "id with spaces"),
        ("portal_cancel_hours", "169"),  # more than a week
        ("portal_cancel_hours", "-1"),
        ("portal_cancel_hours", "2.5"),
        ("portal_cancel_hours", "\u0662\u0664"),
        ("portal_cancel_hours", ""),
    ],
)
def test_a_bad_value_is_422_on_its_field_and_changes_nothing(stmarys, field, value):
    admin = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))
    before = _saved(stmarys)

    response = admin.post("/settings/", {**VALID, "reminder_offsets": "48", field: value})

    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="{field}"' in page
    assert page.split(f'id="{field}"')[0].rsplit("<input", 1)[1].count("is-invalid") == 1
    assert _saved(stmarys) == before
