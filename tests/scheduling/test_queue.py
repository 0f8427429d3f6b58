"""The front desk's queue: tokens numbered per doctor, session and kind (never one number twice,
even from many desks at once), the branch's order for "call next", skip and recall, "left without
being seen", and the patient's place in the portal. Through the API, as the desk and the doctor
use it."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from portal.services import portal_link
from scheduling.models import Appointment, Leave, QueueEntry, QueueEvent, WorkingHours
from scheduling.queue import queue_call_next, queue_check_in, queue_walk_in
from tenants.models import Hospital
from tests.clinical.conftest import register

MINUTE = dt.timedelta(minutes=1)


BRANCH_ZONE = ZoneInfo("Europe/London")  # St Mary's, whatever zone the process has active


def _day_hours(doctor: User) -> list[WorkingHours]:
    """Two sessions today, split well away from now (the ``ten_oclock`` clock), so that visits
    around now share one."""
    local = timezone.now().astimezone(BRANCH_ZONE)
    split = dt.time(18) if local.hour < 12 else dt.time(6)
    weekday = local.date().weekday()
    return [
        WorkingHours.objects.create(doctor=doctor, weekday=weekday, starts=dt.time(0), ends=split),
        WorkingHours.objects.create(doctor=doctor, weekday=weekday, starts=split, ends=dt.time(23, 59, 59)),
    ]


def _settings(branch, **values) -> None:
    Hospital.objects.filter(pk=branch.hospital.pk).update(**values)
    connection.set_tenant(Hospital.objects.get(pk=branch.hospital.pk))


@pytest.fixture
def clinic(ten_oclock, stmarys):
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        doctor = stmarys.user(Role.DOCTOR)
        _day_hours(doctor)
        treatment = Treatment.objects.create(name="Consultation", code="CONS", duration_minutes=10)
    names = ["Ada Byron", "Kofi Mensah", "Mei Lin", "Omar Haddad", "Ravi Kumar", "Zoe Clark"]
    made = [register(stmarys, full_name=name, date_of_birth=f"198{n}-01-01") for n, name in enumerate(names)]
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        yield {
            "doctor": doctor,
            "desk": stmarys.user(Role.RECEPTIONIST),
            "admin": stmarys.user(Role.HOSPITAL_ADMIN),
            "treatment": treatment,
            "patients": [Patient.objects.get(pk=p["id"]) for p in made],
        }


def _booked(clinic, n: int, start: dt.datetime) -> Appointment:
    return Appointment.objects.create(
        patient=clinic["patients"][n],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        start=start,
        end=start + dt.timedelta(minutes=10),
    )


def _post(client, path: str, body: dict | None = None):
    return client.post(path, json.dumps(body or {}), content_type="application/json")


pytestmark = pytest.mark.django_db


def test_booked_walk_in_and_late_patients_get_tokens_told_apart(clinic, stmarys):
    now = timezone.now()
    desk = stmarys.api(clinic["desk"])
    on_time = _booked(clinic, 0, now + 5 * MINUTE)
    late = _booked(clinic, 1, now - 40 * MINUTE)

    checked = _post(desk, "/api/queue/check-ins/", {"appointment_id": str(on_time.pk)})
    walked = _post(
        desk,
        "/api/queue/walk-ins/",
        {
            "patient_id": str(clinic["patients"][2].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
        },
    )
    came_late = _post(desk, f"/api/appointments/{late.pk}/check-in/")
    second_walk_in = _post(
        desk,
        "/api/queue/walk-ins/",
        {
            "patient_id": str(clinic["patients"][3].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
        },
    )

    assert checked.status_code == walked.status_code == second_walk_in.status_code == 201
    assert (checked.json()["token"], checked.json()["kind"], checked.json()["state"]) == ("B1", "booked", "waiting")
    assert (walked.json()["token"], walked.json()["kind"]) == ("W1", "walk_in")
    assert second_walk_in.json()["token"] == "W2"
    assert came_late.status_code == 200
    assert came_late.json()["token"] == "L1"
    assert came_late.json()["status"] == "checked_in"
    # a walk-in is a visit of the day: checked in at once, outside the booked slots
    walk_in = Appointment.objects.get(pk=walked.json()["appointment_id"])
    assert (walk_in.status, walk_in.overbooked, walk_in.override_reason) == ("checked_in", True, "Walk-in")


def test_a_branch_numbering_by_ranges_gets_numbers_without_prefixes(clinic, stmarys):
    _settings(
        stmarys,
        queue_tokens={
            "booked": {"prefix": "", "start": 1},
            "walk_in": {"prefix": "", "start": 101},
            "late": {"prefix": "", "start": 201},
        },
    )
    now = timezone.now()

    booked = queue_check_in(appointment=_booked(clinic, 0, now + 5 * MINUTE), actor=clinic["desk"])
    walk_in = queue_walk_in(
        patient=clinic["patients"][1], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    late = queue_check_in(appointment=_booked(clinic, 2, now - 30 * MINUTE), actor=clinic["desk"])

    assert (booked.token, walk_in.token, late.token) == ("1", "101", "201")


def _waiting_tokens(clinic, client) -> list[str]:
    queue = client.get("/api/queue/", {"doctor": clinic["doctor"].pk}).json()
    return [entry["token"] for entry in queue["waiting"]]


def test_booked_patients_at_their_time_go_before_walk_ins_and_early_ones_after(clinic, stmarys):
    now = timezone.now()
    desk = stmarys.api(clinic["desk"])
    # a walk-in came first; then a booked patient whose time has come; then one early for later
    walk_in = queue_walk_in(
        patient=clinic["patients"][0],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        actor=clinic["desk"],
        now=now - 20 * MINUTE,
    )
    due = queue_check_in(appointment=_booked(clinic, 1, now - 5 * MINUTE), actor=clinic["desk"], now=now - 10 * MINUTE)
    early = queue_check_in(
        appointment=_booked(clinic, 2, now + 60 * MINUTE), actor=clinic["desk"], now=now - 8 * MINUTE
    )
    second_walk_in = queue_walk_in(
        patient=clinic["patients"][3],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        actor=clinic["desk"],
        now=now - 2 * MINUTE,
    )

    booked_first = _waiting_tokens(clinic, desk)
    _settings(stmarys, queue_order="arrival")
    by_arrival = _waiting_tokens(clinic, desk)

    assert booked_first == [due.token, walk_in.token, second_walk_in.token, early.token]
    assert by_arrival == [walk_in.token, due.token, early.token, second_walk_in.token]


def test_a_late_arrival_goes_next_or_to_the_end_as_the_branch_says(clinic, stmarys):
    now = timezone.now()
    desk = stmarys.api(clinic["desk"])
    first = queue_walk_in(
        patient=clinic["patients"][0],
        doctor=clinic["doctor"],
        treatment=clinic["treatment"],
        actor=clinic["desk"],
        now=now - 30 * MINUTE,
    )
    late = queue_check_in(appointment=_booked(clinic, 1, now - 45 * MINUTE), actor=clinic["desk"])

    at_the_end = _waiting_tokens(clinic, desk)
    _settings(stmarys, queue_late_rule="next")
    next_in_line = _waiting_tokens(clinic, desk)

    assert late.kind == "late"
    assert at_the_end == [first.token, late.token]
    assert next_in_line == [late.token, first.token]


def test_the_doctor_calls_next_skips_recalls_and_a_patient_who_left_frees_the_place(clinic, stmarys):
    now = timezone.now()
    doctor = stmarys.api(clinic["doctor"])
    desk = stmarys.api(clinic["desk"])
    tokens = [
        queue_walk_in(
            patient=clinic["patients"][n],
            doctor=clinic["doctor"],
            treatment=clinic["treatment"],
            actor=clinic["desk"],
            now=now - (10 - n) * MINUTE,
        )
        for n in range(3)
    ]
    call = f"/api/queue/doctors/{clinic['doctor'].pk}/call-next/"

    first = _post(doctor, call).json()
    skipped = _post(doctor, f"/api/queue/{tokens[0].pk}/skip/")
    second = _post(doctor, call).json()
    left = _post(desk, f"/api/queue/{tokens[2].pk}/left/")
    recalled = _post(desk, f"/api/queue/{tokens[0].pk}/recall/")
    started = _post(doctor, f"/api/queue/{tokens[0].pk}/start/")
    empty = _post(doctor, call).json()

    assert first["called"]["token"] == "W1"
    assert skipped.json()["state"] == "skipped"
    # the skipped patient is passed by; the one the doctor had is seen
    assert second["called"]["token"] == "W2"
    assert left.json()["state"] == "left"
    assert recalled.json()["state"] == "called"
    assert recalled.json()["calls"] == 2
    assert started.json()["state"] == "with_doctor"
    # W3 left: nobody is waiting; the call finished W1 and W2 (both were in the room or called)
    assert empty["called"] is None
    assert sorted(e["token"] for e in empty["finished"]) == ["W1", "W2"]
    gone = Appointment.objects.get(pk=tokens[2].appointment_id)
    assert (gone.status, gone.cancel_reason) == ("cancelled", "Left without being seen")
    seen = Appointment.objects.get(pk=tokens[0].appointment_id)
    assert seen.status == "completed"
    states = list(QueueEvent.objects.filter(entry=tokens[0]).values_list("state", flat=True))
    assert states == ["waiting", "called", "skipped", "called", "with_doctor", "done"]


def test_a_step_out_of_turn_is_409_and_changes_nothing(clinic, stmarys):
    entry = queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    doctor = stmarys.api(clinic["doctor"])

    skipped = _post(doctor, f"/api/queue/{entry.pk}/skip/")  # not called yet
    started = _post(doctor, f"/api/queue/{entry.pk}/start/")

    assert skipped.status_code == started.status_code == 409
    assert skipped.json()["code"] == "wrong_state"
    entry.refresh_from_db()
    assert entry.state == "waiting"


def test_who_may_do_what_in_the_queue(clinic, stmarys, other_doctor):
    entry = queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    call = f"/api/queue/doctors/{clinic['doctor'].pk}/call-next/"
    walk_in = {
        "patient_id": str(clinic["patients"][1].pk),
        "doctor_id": clinic["doctor"].pk,
        "treatment_id": clinic["treatment"].pk,
    }

    desk_calls = _post(stmarys.api(clinic["desk"]), call)
    colleague_calls = _post(stmarys.api(other_doctor), call)
    colleague_reads = stmarys.api(other_doctor).get("/api/queue/", {"doctor": clinic["doctor"].pk})
    colleague_skips = _post(stmarys.api(other_doctor), f"/api/queue/{entry.pk}/left/")
    doctor_adds = _post(stmarys.api(clinic["doctor"]), "/api/queue/walk-ins/", walk_in)
    patient_reads = stmarys.api(stmarys.user(Role.PATIENT)).get("/api/queue/", {"doctor": clinic["doctor"].pk})
    anonymous = stmarys.api().get("/api/queue/board/")

    assert desk_calls.status_code == 403
    assert colleague_calls.status_code == 403
    assert colleague_reads.status_code == 403
    assert colleague_skips.status_code == 404  # not one of theirs
    assert doctor_adds.status_code == 403
    assert patient_reads.status_code == 403
    assert anonymous.status_code == 401
    entry.refresh_from_db()
    assert entry.state == "waiting"
    assert QueueEntry.objects.count() == 1


def test_a_walk_in_is_refused_when_the_doctor_is_not_in_or_the_patient_is_booked_now(clinic, stmarys, other_doctor):
    desk = stmarys.api(clinic["desk"])
    _booked(clinic, 0, timezone.now() - 2 * MINUTE)

    not_working = _post(
        desk,
        "/api/queue/walk-ins/",
        {
            "patient_id": str(clinic["patients"][1].pk),
            "doctor_id": other_doctor.pk,
            "treatment_id": clinic["treatment"].pk,
        },
    )
    booked_now = _post(
        desk,
        "/api/queue/walk-ins/",
        {
            "patient_id": str(clinic["patients"][0].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
        },
    )

    Leave.objects.create(
        doctor=clinic["doctor"], starts_at=timezone.now() - MINUTE, ends_at=timezone.now() + 60 * MINUTE
    )
    on_leave = _post(
        desk,
        "/api/queue/walk-ins/",
        {
            "patient_id": str(clinic["patients"][1].pk),
            "doctor_id": clinic["doctor"].pk,
            "treatment_id": clinic["treatment"].pk,
        },
    )

    assert not_working.status_code == 422
    assert not_working.json()["detail"][0]["loc"] == ["body", "doctor_id"]
    assert on_leave.status_code == 422
    assert on_leave.json()["detail"][0]["type"] == "on_leave"
    assert booked_now.status_code == 409
    assert booked_now.json()["code"] == "patient_taken"
    assert not QueueEntry.objects.exists()


def test_the_patient_sees_their_place_and_wait_and_the_board_shows_no_names(clinic, stmarys):
    now = timezone.now()
    entries = [
        queue_walk_in(
            patient=clinic["patients"][n],
            doctor=clinic["doctor"],
            treatment=clinic["treatment"],
            actor=clinic["desk"],
            now=now - (10 - n) * MINUTE,
        )
        for n in range(3)
    ]
    queue_call_next(doctor=clinic["doctor"], actor=clinic["doctor"])
    account = User.objects.create_user(username="queue.patient@example.org", role=Role.PATIENT, password="q" * 20)
    portal_link(account=account, patient=clinic["patients"][2], relationship="self", linked_by=clinic["desk"])

    place = stmarys.api(account).get("/api/portal/queue/", {"patient": str(clinic["patients"][2].pk)})
    board = stmarys.api(clinic["desk"]).get("/api/queue/board/")
    page = stmarys.client(clinic["desk"]).get("/queue/board/", follow=True)

    assert page.status_code == 200
    assert "W1" in page.content.decode()
    [mine] = place.json()["places"]
    assert (mine["token"], mine["state"], mine["ahead"]) == ("W3", "waiting", 2)  # W1 with the doctor, W2 waiting
    assert mine["wait_minutes"] == 20  # two patients of a 10-minute consultation
    [doctor_board] = board.json()["doctors"]
    assert doctor_board["called"] == [entries[0].token]
    assert doctor_board["next"] == [entries[1].token, entries[2].token]
    text = json.dumps(board.json()) + page.content.decode()
    for patient in clinic["patients"][:3]:
        assert patient.full_name not in text
        assert patient.mrn not in text


RULES = {
    "token_prefix_booked": "",
    "token_start_booked": "1",
    "token_prefix_walk_in": "",
    "token_start_walk_in": "101",
    "token_prefix_late": "",
    "token_start_late": "201",
    "queue_order": "arrival",
    "queue_late_rule": "next",
    "queue_late_minutes": "10",
    "queue_wait_alert_minutes": "20",
}


def _rules(branch) -> tuple:
    hospital = Hospital.objects.get(pk=branch.hospital.pk)
    return (
        hospital.queue_tokens,
        hospital.queue_order,
        hospital.queue_late_rule,
        hospital.queue_late_minutes,
        hospital.queue_wait_alert_minutes,
    )


def test_an_admin_sets_the_queues_rules_and_the_next_token_follows_them(clinic, stmarys):
    admin = stmarys.client(clinic["admin"])

    saved = admin.post("/settings/queue/", RULES)
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    walk_in = queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )

    assert saved.status_code == 302
    assert walk_in.token == "101"
    assert _rules(stmarys)[1:] == ("arrival", "next", 10, 20)
    assert "Branch settings changed" in admin.get("/security-log/").content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_prefix_walk_in", "TOOLONG"),
        ("token_prefix_walk_in", "W W"),
        ("token_prefix_walk_in", "1"),  # 1 and 12 would read as 112
        ("token_start_walk_in", "abc"),
        ("token_start_walk_in", "50"),  # the same (empty) prefix as booked, too near its numbers
        ("token_start_late", "\u0662\u0660\u0661"),
        ("queue_order", "loudest_first"),
        ("queue_late_rule", "never"),
        ("queue_late_minutes", "999"),
        ("queue_wait_alert_minutes", "0"),
    ],
)
def test_a_bad_queue_rule_is_422_on_its_field_and_changes_nothing(clinic, stmarys, field, value):
    before = _rules(stmarys)

    answer = stmarys.client(clinic["admin"]).post("/settings/queue/", {**RULES, field: value})

    assert answer.status_code == 422
    page = answer.content.decode()
    assert page.split(f'id="{field}"')[0].rsplit("<", 1)[1].count("is-invalid") == 1
    assert _rules(stmarys) == before


def test_a_walk_in_shows_in_the_day_view_and_the_doctors_day_with_its_token(clinic, stmarys):
    entry = queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )

    day = stmarys.client(clinic["desk"]).get("/schedule/", {"doctor": clinic["doctor"].pk, "view": "day"})
    my_day = stmarys.client(clinic["doctor"]).get("/my-day/")
    home = stmarys.client(clinic["desk"]).get("/")

    for page in (day, my_day):
        text = page.content.decode()
        assert clinic["patients"][0].full_name in text
        assert f">{entry.token}<" in text
    assert clinic["patients"][0].full_name in home.content.decode()


def test_the_queues_buttons_come_back_to_the_page_not_its_refreshed_table(clinic, stmarys):
    queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )

    refreshed = stmarys.client(clinic["desk"]).get("/queue/live/", {"doctor": clinic["doctor"].pk}).content.decode()
    doctors = stmarys.client(clinic["doctor"]).get("/queue/live/", {"doctor": clinic["doctor"].pk}).content.decode()
    bad = stmarys.client(clinic["desk"]).get("/queue/live/", {"doctor": "\u00b2"})

    assert f'name="next" value="/queue/?doctor={clinic["doctor"].pk}"' in refreshed
    assert "/queue/live/" not in refreshed.split('name="next"')[1]
    assert 'name="next" value="/queue/mine/"' in doctors
    assert bad.status_code == 404


def test_a_visit_cancelled_or_completed_elsewhere_leaves_the_queue(clinic, stmarys):
    now = timezone.now()
    desk, doctor = stmarys.api(clinic["desk"]), stmarys.api(clinic["doctor"])
    cancelled = queue_check_in(appointment=_booked(clinic, 0, now - 2 * MINUTE), actor=clinic["desk"])
    completed = queue_walk_in(
        patient=clinic["patients"][1], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    waiting = queue_walk_in(
        patient=clinic["patients"][2], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )

    assert _post(desk, f"/api/appointments/{cancelled.appointment_id}/cancel/", {"reason": "Phoned"}).status_code == 200
    assert _post(doctor, f"/api/appointments/{completed.appointment_id}/complete/").status_code == 200
    board = desk.get("/api/queue/board/").json()["doctors"][0]
    called = _post(doctor, f"/api/queue/doctors/{clinic['doctor'].pk}/call-next/").json()

    states = dict(QueueEntry.objects.values_list("token", "state"))
    assert states[cancelled.token] == "left"
    assert states[completed.token] == "done"
    assert board["next"] == [waiting.token]
    assert called["called"]["token"] == waiting.token


def test_a_call_from_a_page_the_queue_has_moved_past_changes_nothing(clinic, stmarys):
    first = queue_walk_in(
        patient=clinic["patients"][0], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    second = queue_walk_in(
        patient=clinic["patients"][1], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )
    doctor = stmarys.api(clinic["doctor"])
    call = f"/api/queue/doctors/{clinic['doctor'].pk}/call-next/"

    # two devices both showed nobody with the doctor; both press "call next"
    one = doctor.post(call + "?expected=", content_type="application/json")
    other = doctor.post(call + "?expected=", content_type="application/json")
    # the doctor's own page, as a browser sends it twice from two tabs
    page = stmarys.client(clinic["doctor"])
    stale = page.post("/queue/call-next/", {"current": ""}, follow=True)

    assert one.status_code == 200
    assert one.json()["called"]["token"] == first.token
    assert other.status_code == 409
    assert other.json()["code"] == "queue_changed"
    assert "has changed since your page was shown" in stale.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("called", "waiting")  # the first was not marked seen
    assert Appointment.objects.get(pk=first.appointment_id).status == "checked_in"


def test_hours_changed_during_the_day_do_not_give_a_token_twice(clinic, stmarys):
    now = timezone.now()
    first = queue_check_in(appointment=_booked(clinic, 0, now + 5 * MINUTE), actor=clinic["desk"])
    # the admin moves the start of today's session by five minutes
    hours = WorkingHours.objects.filter(doctor=clinic["doctor"]).order_by("starts")
    for interval in hours:
        if interval.starts <= now.astimezone(BRANCH_ZONE).time() < interval.ends:
            moved = dt.datetime.combine(now.astimezone(BRANCH_ZONE).date(), interval.starts) + 5 * MINUTE
            interval.starts = moved.time()
            interval.save()

    second = queue_check_in(appointment=_booked(clinic, 1, now + 20 * MINUTE), actor=clinic["desk"])

    assert (first.token, second.token) == ("B1", "B2")
    assert second.session_start == first.session_start


def test_a_late_arrival_keeps_the_session_of_their_booking(clinic, stmarys):
    now = timezone.now()
    local = now.astimezone(BRANCH_ZONE)
    # the morning session ended ten minutes ago; the patient booked in it arrives now, late
    WorkingHours.objects.filter(doctor=clinic["doctor"]).delete()
    split = (local - 10 * MINUTE).time().replace(second=0, microsecond=0)
    for starts, ends in ((dt.time(0), split), (split, dt.time(23, 59, 59))):
        WorkingHours.objects.create(doctor=clinic["doctor"], weekday=local.weekday(), starts=starts, ends=ends)

    late = queue_check_in(appointment=_booked(clinic, 0, now - 25 * MINUTE), actor=clinic["desk"])
    walk_in = queue_walk_in(
        patient=clinic["patients"][1], doctor=clinic["doctor"], treatment=clinic["treatment"], actor=clinic["desk"]
    )

    assert late.kind == "late"
    assert late.session_start == dt.time(0)
    assert walk_in.session_start == split
