"""Who may call which scheduling route and open which scheduling page: every route and page by
every kind of caller. A denied call changes nothing; a route or page missing from the matrix
fails the test, so a new one cannot ship unchecked."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.urls import get_resolver, reverse
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from config.api import branch_api
from core.branch import branch_today
from scheduling.models import Appointment, DoctorProfile, Leave, WorkingHours
from scheduling.services import Override, appointment_book, appointment_check_in
from tenants.models import Hospital
from tests.clinical.conftest import register
from tests.scheduling.conftest import at, next_weekday
from tests.scheduling.test_queue_matrix import PAGES as QUEUE_PAGES

pytestmark = pytest.mark.django_db

CALLERS = [
    "admin",
    "receptionist",
    "doctor",  # the visits' doctor
    "other_doctor",  # same branch, none of these visits
    "patient",  # a patient's token: patients book through the portal routes
    "outsider",  # a hospital admin of the other branch, on this branch's host
    "outsider_at_home",  # the same admin on their own host, naming this branch's ids (API only)
    "anonymous",
]


@dataclass
class Clinic:
    callers: dict[str, User | None]
    doctor: User
    treatment: Treatment
    patient: Patient
    second: Patient
    day: dt.date
    today_visit: Appointment  # today, booked: checked in or missed
    arrived_visit: Appointment  # today, checked in: completed by its doctor
    future_visit: Appointment  # ahead, booked: moved or cancelled


@pytest.fixture
def clinic_world(stmarys, riverside) -> Clinic:
    patient = register(stmarys, full_name="Matrix Patient", date_of_birth="1980-05-05")
    second = register(stmarys, full_name="Second Matrix", date_of_birth="1981-06-06")
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        # A doctor made here: no doctor of the other branch has this id.
        doctor = User.objects.create_user(username="sched@stmarys.test", email="sched@stmarys.test", role=Role.DOCTOR)
        other = User.objects.create_user(username="free@stmarys.test", email="free@stmarys.test", role=Role.DOCTOR)
        for weekday in range(7):
            WorkingHours.objects.create(doctor=doctor, weekday=weekday, starts=dt.time(9), ends=dt.time(12))
        treatment = Treatment.objects.create(name="Matrix consultation", code="MTX", duration_minutes=15)
        desk = stmarys.user(Role.RECEPTIONIST)
        patient_row = Patient.objects.get(pk=patient["id"])
        second_row = Patient.objects.get(pk=second["id"])
        midnight = dt.datetime.combine(branch_today(), dt.time(0), tzinfo=at(branch_today(), 0).tzinfo)
        book = dict(doctor=doctor, treatment=treatment, booked_by=desk)
        entered = Override(reason="Entered at the desk")
        today_visit = appointment_book(patient=patient_row, start=midnight, override=entered, **book)
        arrived = appointment_book(patient=second_row, start=midnight, override=Override("Both at once", True), **book)
        appointment_check_in(appointment=arrived, actor=desk)
        day = next_weekday(2)
        future = appointment_book(patient=patient_row, start=at(day, 9), **book)
    return Clinic(
        callers={
            "admin": stmarys.user(Role.HOSPITAL_ADMIN),
            "receptionist": stmarys.user(Role.RECEPTIONIST),
            "doctor": doctor,
            "other_doctor": other,
            "patient": stmarys.user(Role.PATIENT),
            "outsider": riverside.user(Role.HOSPITAL_ADMIN),
            "outsider_at_home": riverside.user(Role.HOSPITAL_ADMIN),
            "anonymous": None,
        },
        doctor=doctor,
        treatment=treatment,
        patient=patient_row,
        second=second_row,
        day=day,
        today_visit=today_visit,
        arrived_visit=arrived,
        future_visit=future,
    )


def state_of(branch) -> dict:
    """Everything a scheduling write could change, except the audit trail."""
    with schema_context(branch.schema):
        return {
            "appointments": list(
                Appointment.objects.order_by("pk").values_list("pk", "status", "start", "doctor_id", "overbooked")
            ),
            "hours": list(WorkingHours.objects.order_by("pk").values_list("doctor_id", "weekday", "starts", "ends")),
            "leave": list(Leave.objects.order_by("pk").values_list("pk", "starts_at", "ends_at")),
            "profiles": list(DoctorProfile.objects.order_by("pk").values_list("user_id", "specialty", "room")),
            "settings": list(
                Hospital.objects.filter(pk=branch.hospital.pk).values_list(
                    "reminder_offsets_minutes", "quiet_hours_start", "quiet_hours_end", "desk_prints_prescriptions"
                )
            ),
        }


# --- the API ----------------------------------------------------------------------------------

DESK = {"admin": 200, "receptionist": 200}


def row(ok: dict[str, int], *, ids: bool = True, others: int = 403) -> dict[str, int | None]:
    expected: dict[str, int | None] = {caller: ok.get(caller, 403) for caller in CALLERS}
    if "other_doctor" not in ok and "doctor" in ok:
        expected["other_doctor"] = others
    # The outsider's token is not this branch's; at home, an id of this branch is unknown there.
    expected.update(outsider=401, anonymous=401, outsider_at_home=(404 if "admin" in ok else 403) if ids else None)
    return expected


API = {
    ("GET", "/api/doctors/"): row({**DESK, "doctor": 200, "other_doctor": 200, "patient": 200}, ids=False),
    ("GET", "/api/doctors/{doctor_id}/slots/"): row({**DESK, "doctor": 200, "other_doctor": 200, "patient": 200}),
    ("POST", "/api/appointments/"): row({"admin": 201, "receptionist": 201}),
    ("GET", "/api/appointments/"): row({**DESK, "doctor": 200, "other_doctor": 200}, ids=False),
    ("GET", "/api/appointments/{appointment_id}/"): row({**DESK, "doctor": 200}, others=404),
    ("POST", "/api/appointments/{appointment_id}/cancel/"): row(DESK),
    ("POST", "/api/appointments/{appointment_id}/reschedule/"): row(DESK),
    ("POST", "/api/appointments/{appointment_id}/check-in/"): row(DESK),
    ("POST", "/api/appointments/{appointment_id}/no-show/"): row(DESK),
    ("POST", "/api/appointments/{appointment_id}/complete/"): row({"admin": 200, "doctor": 200}, others=404),
}
SCHEDULING_PREFIXES = ("/api/doctors/", "/api/appointments/")


def _declared_routes() -> set[tuple[str, str]]:
    routes = set()
    for prefix, router in branch_api._routers:
        for path, path_view in router.path_operations.items():
            full = "/api/" + (prefix.strip("/") + "/" + path.lstrip("/")).lstrip("/")
            full = re.sub(r"\{\w+:", "{", full)
            if full.startswith(SCHEDULING_PREFIXES):
                routes.update((method, full) for operation in path_view.operations for method in operation.methods)
    return routes


def test_every_scheduling_route_is_in_the_matrix():
    assert _declared_routes() == set(API)


def _api_client(caller: str, world: Clinic, stmarys, riverside) -> Client:
    user = world.callers[caller]
    if caller == "outsider":
        return Client(HTTP_HOST=stmarys.host, HTTP_AUTHORIZATION=f"Bearer {riverside.token(user)}")
    if caller == "outsider_at_home":
        return riverside.api(user)
    return stmarys.api(user)


def _api_call(method: str, route: str, world: Clinic) -> tuple[str, dict | None]:
    visit = {
        "/check-in/": world.today_visit,
        "/no-show/": world.today_visit,
        "/complete/": world.arrived_visit,
    }
    appointment = next((v for end, v in visit.items() if route.endswith(end)), world.future_visit)
    path = route.format(doctor_id=world.doctor.pk, appointment_id=appointment.pk)
    if route.endswith("/slots/"):
        path += f"?date={world.day.isoformat()}&treatment={world.treatment.pk}"
    bodies = {
        ("POST", "/api/appointments/"): {
            "patient_id": str(world.second.pk),
            "doctor_id": world.doctor.pk,
            "treatment_id": world.treatment.pk,
            "start": at(world.day, 11).isoformat(),
        },
        ("POST", "/api/appointments/{appointment_id}/cancel/"): {"reason": "Phoned"},
        ("POST", "/api/appointments/{appointment_id}/reschedule/"): {"start": at(world.day, 10).isoformat()},
    }
    return path, bodies.get((method, route), {} if method == "POST" else None)


API_CASES = [(method, route, caller) for (method, route), r in API.items() for caller in CALLERS if r[caller]]


@pytest.mark.parametrize(("method", "route", "caller"), API_CASES)
def test_api_matrix(stmarys, riverside, clinic_world, method, route, caller):
    expected = API[(method, route)][caller]
    client = _api_client(caller, clinic_world, stmarys, riverside)
    path, body = _api_call(method, route, clinic_world)
    before = state_of(stmarys)

    call = getattr(client, method.lower())
    response = call(path, json.dumps(body), content_type="application/json") if body is not None else call(path)

    assert response.status_code == expected, (caller, method, path, response.content[:300])
    if response.status_code >= 400:
        assert state_of(stmarys) == before, "a denied call changed something"
    elif method == "POST":
        assert state_of(stmarys) != before, "an accepted call changed nothing"


# --- the pages --------------------------------------------------------------------------------

LOGIN = "login"
PAGE_CALLERS = [c for c in CALLERS if c != "outsider_at_home"]
STAFF = {"admin": 200, "receptionist": 200, "doctor": 200, "other_doctor": 200}


def page_row(ok: dict[str, int], **more: int) -> dict[str, int | str]:
    expected: dict[str, int | str] = {caller: ok.get(caller, 403) for caller in PAGE_CALLERS}
    expected.update(more)
    expected.update(outsider=LOGIN, anonymous=LOGIN)
    return expected


def not_allowed(callers: dict[str, int]) -> dict[str, int | str]:
    """A page that only takes POST: "method not allowed" for those who may send it, 403 for the rest."""
    return page_row({caller: 405 for caller in callers})


# label → (url name, expected on GET, expected on POST or None)
PAGES = {
    "home": ("home", page_row(STAFF), None),
    "schedule": ("scheduling:schedule", page_row(STAFF), None),
    "day_print": ("scheduling:day_print", page_row(STAFF), None),
    "book": ("scheduling:book", page_row(DESK), page_row({"admin": 302, "receptionist": 302})),
    "my_day": ("scheduling:my_day", page_row({"doctor": 200, "other_doctor": 200}), None),
    "check_in": (
        "scheduling:appointment_action",
        not_allowed(STAFF),
        page_row({"admin": 302, "receptionist": 302, "doctor": 403}, other_doctor=404),
    ),
    "no_show": (
        "scheduling:appointment_action",
        not_allowed(STAFF),
        page_row({"admin": 302, "receptionist": 302, "doctor": 403}, other_doctor=404),
    ),
    "cancel": (
        "scheduling:appointment_action",
        not_allowed(STAFF),
        page_row({"admin": 302, "receptionist": 302, "doctor": 403}, other_doctor=404),
    ),
    "complete": (
        "scheduling:appointment_action",
        not_allowed(STAFF),
        page_row({"admin": 302, "doctor": 302, "receptionist": 302}, other_doctor=404),
    ),
    "doctors": ("scheduling:doctors", page_row({"admin": 200}), None),
    "doctor_edit": ("scheduling:doctor_edit", page_row({"admin": 200}), page_row({"admin": 302})),
    "leave_add": ("scheduling:leave_add", not_allowed({"admin": 405}), page_row({"admin": 302})),
    "leave_settle": ("scheduling:leave_settle", page_row({"admin": 200}), page_row({"admin": 302})),
    "leave_remove": ("scheduling:leave_remove", not_allowed({"admin": 405}), page_row({"admin": 302})),
    "branch_settings": ("scheduling:branch_settings", page_row({"admin": 200}), page_row({"admin": 302})),
}
# The desk's complete is refused by the service after the role check passed: the page says so.
PAGES["complete"][2]["receptionist"] = 403


def test_every_scheduling_page_is_in_the_matrix():
    scheduling = get_resolver("config.urls_branch").namespace_dict["scheduling"][1]
    names = {f"scheduling:{pattern.name}" for pattern in scheduling.url_patterns}
    listed = {name for name, _get, _post in [*PAGES.values(), *QUEUE_PAGES.values()]}
    assert names == {name for name in listed if name.startswith("scheduling:")}


def _leave(world: Clinic) -> Leave:
    start = world.future_visit.start
    return Leave.objects.create(doctor=world.doctor, starts_at=start, ends_at=start + dt.timedelta(hours=1))


def _page(label: str, world: Clinic, stmarys) -> tuple[str, dict]:
    name = PAGES[label][0]
    day = world.day.isoformat()
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        if label in ("check_in", "no_show", "cancel", "complete"):
            visit = {"complete": world.arrived_visit, "cancel": world.future_visit}.get(label, world.today_visit)
            action = label.replace("_", "-")
            return reverse(name, args=[visit.pk, action]), {"reason": "Phoned"}
        if label in ("doctor_edit", "leave_add"):
            body = (
                {"specialty": "Cardiology", "day_0": "09:00-12:00"}
                if label == "doctor_edit"
                else {"starts_at": f"{day}T13:00", "ends_at": f"{day}T14:00"}
            )
            return reverse(name, args=[world.doctor.pk]), body
        if label in ("leave_settle", "leave_remove"):
            leave = _leave(world)
            return reverse(name, args=[leave.pk]), {f"decision_{world.future_visit.pk}": "cancel"}
        if label == "branch_settings":
            body = {
                "reminder_offsets": "48, 3",
                "quiet_hours_start": "22:00",
                "quiet_hours_end": "07:00",
                "portal_cancel_hours": "24",
            }
            return reverse(name), body
        query = f"?doctor={world.doctor.pk}&date={day}" if label in ("schedule", "day_print") else ""
        url = reverse(name) + query
        if label == "book":
            body = {
                "patient": world.second.pk,
                "doctor": world.doctor.pk,
                "treatment": world.treatment.pk,
                "date": day,
                "slot": at(world.day, 11).isoformat(),
            }
            return url, body
        return url, {}


def _page_client(caller: str, world: Clinic, stmarys, riverside) -> Client:
    if caller == "anonymous":
        return Client(HTTP_HOST=stmarys.host)
    if caller == "outsider":
        signed_in = riverside.client(world.callers["outsider"])
        signed_in.defaults["HTTP_HOST"] = stmarys.host
        return signed_in
    return stmarys.client(world.callers[caller])


def _check(response, expected) -> None:
    if expected == LOGIN:
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == expected, response.content[:400]


@pytest.mark.parametrize("caller", PAGE_CALLERS)
@pytest.mark.parametrize("label", list(PAGES))
def test_opening_a_page(stmarys, riverside, clinic_world, label, caller):
    url, _body = _page(label, clinic_world, stmarys)

    response = _page_client(caller, clinic_world, stmarys, riverside).get(url)

    _check(response, PAGES[label][1][caller])


@pytest.mark.parametrize("caller", PAGE_CALLERS)
@pytest.mark.parametrize("label", [label for label, (_n, _g, sent) in PAGES.items() if sent])
def test_sending_a_page(stmarys, riverside, clinic_world, label, caller):
    expected = PAGES[label][2][caller]
    url, body = _page(label, clinic_world, stmarys)
    before = state_of(stmarys)

    response = _page_client(caller, clinic_world, stmarys, riverside).post(url, body)

    _check(response, expected)
    if expected == 302:
        assert state_of(stmarys) != before, "an accepted POST changed nothing"
    else:
        assert state_of(stmarys) == before, "a refused POST changed something"
