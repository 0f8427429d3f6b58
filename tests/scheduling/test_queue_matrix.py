"""Who may open which queue page and send which queue button: every queue page by every kind of
caller. A refused request changes nothing. The waiting-room board's signed address is open to a
screen nobody signed in to; any other address is 404."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from scheduling.models import QueueEntry
from scheduling.queue import queue_walk_in
from scheduling.views.queue import board_key
from tenants.models import Hospital
from tests.clinical.conftest import register
from tests.scheduling.test_queue import _day_hours

pytestmark = pytest.mark.django_db

CALLERS = ["admin", "receptionist", "doctor", "other_doctor", "patient", "outsider", "anonymous"]
LOGIN = "login"


def row(ok: dict[str, int]) -> dict[str, int | str]:
    expected: dict[str, int | str] = {caller: ok.get(caller, 403) for caller in CALLERS}
    expected.update(outsider=LOGIN, anonymous=LOGIN)
    return expected


DESK = {"admin": 200, "receptionist": 200}
STAFF = {"admin": 200, "receptionist": 200, "doctor": 200, "other_doctor": 200}

# label → (url name, expected on GET, expected on POST or None)
PAGES = {
    "queue": ("scheduling:queue", row(DESK), None),
    "queue_live": ("scheduling:queue_live", row({**DESK, "doctor": 200}), None),
    "queue_mine": ("scheduling:queue_mine", row({"doctor": 200, "other_doctor": 200}), None),
    # The doctor is sent to the record of the patient called; an admin back to the queue; a
    # colleague calls their own (empty) queue.
    "queue_call_next": (
        "scheduling:queue_call_next",
        row({"doctor": 405, "other_doctor": 405, "admin": 405}),
        row({"doctor": 302, "other_doctor": 302, "admin": 302}),
    ),
    "queue_step": (
        "scheduling:queue_step",
        row({"admin": 405, "receptionist": 405, "doctor": 405, "other_doctor": 405}),
        {**row({"admin": 302, "receptionist": 302, "doctor": 302}), "other_doctor": 404},
    ),
    "queue_walk_in": ("scheduling:queue_walk_in", row(DESK), row({"admin": 302, "receptionist": 302})),
    "queue_slip": ("scheduling:queue_slip", row(DESK), None),
    "queue_board_open": ("scheduling:queue_board_open", row({k: 302 for k in STAFF}), None),
    "queue_settings": ("scheduling:queue_settings", row({"admin": 200}), row({"admin": 302})),
    # The waiting room's screen: nobody is signed in there.
    "queue_board": ("scheduling:queue_board", {caller: 200 for caller in CALLERS}, None),
}


QUEUE_RULES = {
    "token_prefix_booked": "A",
    "token_start_booked": "1",
    "token_prefix_walk_in": "B",
    "token_start_walk_in": "1",
    "token_prefix_late": "C",
    "token_start_late": "1",
    "queue_order": "arrival",
    "queue_late_rule": "next",
    "queue_late_minutes": "10",
    "queue_wait_alert_minutes": "20",
}


class World:
    def __init__(self, stmarys, riverside):
        self.branch, self.riverside = stmarys, riverside
        made = register(stmarys, full_name="Matrix Walker", date_of_birth="1966-06-06")
        other = register(stmarys, full_name="Second Walker", date_of_birth="1977-07-07")
        with schema_context(stmarys.schema):
            connection.set_tenant(stmarys.hospital)
            self.doctor = stmarys.user(Role.DOCTOR)
            _day_hours(self.doctor)
            self.other_doctor = User.objects.create_user(
                username="matrix-colleague@stmarys.test", role=Role.DOCTOR, full_name="Dr Colleague"
            )
            self.treatment = Treatment.objects.create(name="Matrix visit", code="MQ", duration_minutes=10)
            self.walker = Patient.objects.get(pk=other["id"])
            self.patient = Patient.objects.get(pk=made["id"])
            self.entry = queue_walk_in(
                patient=self.patient,
                doctor=self.doctor,
                treatment=self.treatment,
                actor=stmarys.user(Role.RECEPTIONIST),
            )
            from scheduling.views.queue import board_key

            self.board_key = board_key()

    def client(self, caller: str):
        users = {"admin": Role.HOSPITAL_ADMIN, "receptionist": Role.RECEPTIONIST, "doctor": Role.DOCTOR}
        if caller in users:
            return self.branch.client(self.branch.user(users[caller]))
        if caller == "other_doctor":
            return self.branch.client(self.other_doctor)
        if caller == "patient":
            return self.branch.client(self.branch.user(Role.PATIENT))
        if caller == "outsider":
            outsider = self.riverside.client(self.riverside.user(Role.HOSPITAL_ADMIN))
            outsider.defaults["HTTP_HOST"] = self.branch.host
            return outsider
        return self.branch.client()

    def url(self, label: str) -> tuple[str, dict]:
        name = PAGES[label][0]
        if label == "queue_live":
            return reverse(name) + f"?doctor={self.doctor.pk}", {}
        if label == "queue_call_next":
            return reverse(name), {"doctor": str(self.doctor.pk)}
        if label == "queue_step":
            return reverse(name, args=[self.entry.pk, "left"]), {}
        if label == "queue_walk_in":
            body = {"doctor": str(self.doctor.pk), "treatment": str(self.treatment.pk)}
            return reverse(name, args=[self.walker.pk]), body
        if label == "queue_slip":
            return reverse(name, args=[self.entry.pk]), {}
        if label == "queue_board":
            return reverse(name, args=[self.board_key]), {}
        if label == "queue_settings":
            return reverse(name), QUEUE_RULES
        return reverse(name), {}

    def state(self) -> tuple:
        with schema_context(self.branch.schema):
            rules = Hospital.objects.filter(pk=self.branch.hospital.pk).values_list("queue_order", flat=True).get()
            return sorted(QueueEntry.objects.values_list("token", "state")), rules


@pytest.fixture
def world(ten_oclock, stmarys, riverside):
    return World(stmarys, riverside)


def _outcome(response) -> int | str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return response.status_code


@pytest.mark.parametrize("label", sorted(PAGES))
@pytest.mark.parametrize("caller", CALLERS)
def test_opening_a_queue_page(world, label, caller):
    path, _body = world.url(label)

    response = world.client(caller).get(path)

    assert _outcome(response) == PAGES[label][1][caller]


@pytest.mark.parametrize("label", sorted(label for label, (_n, _g, post) in PAGES.items() if post))
@pytest.mark.parametrize("caller", CALLERS)
def test_sending_a_queue_page(world, label, caller):
    path, body = world.url(label)
    expected = PAGES[label][2][caller]
    before = world.state()

    response = world.client(caller).post(path, body)

    assert _outcome(response) == expected
    if expected not in (200, 302):
        assert world.state() == before


def test_the_board_at_any_other_address_is_404(world, riverside):
    with schema_context(riverside.schema):
        connection.set_tenant(riverside.hospital)
        riversides = board_key()

    assert world.client("anonymous").get(reverse("scheduling:queue_board", args=["guess"])).status_code == 404
    assert world.client("anonymous").get(reverse("scheduling:queue_board", args=[riversides])).status_code == 404
