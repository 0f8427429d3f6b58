"""Who may open which portal page: every page of the ``portal`` namespace by every kind of caller.
Patients reach only the records linked to their account (another record is 404); staff are
refused the patients' pages and only the desk and admins handle portal access on a profile. A
refused request changes nothing; a portal page missing from the matrix fails the test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from portal.models import PatientLink, PortalInvite
from portal.services import portal_invite, portal_link
from scheduling.models import Appointment
from tests.clinical.conftest import assign, prescribe, register
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CALLERS = ["admin", "receptionist", "doctor", "patient", "other_patient", "outsider", "anonymous"]
PATIENT_LOGIN = "portal_login"  # sent to the portal's sign-in page
STAFF_LOGIN = "staff_login"  # sent to the staff sign-in page


def patients_page(ok: int) -> dict[str, int | str]:
    """A page of one linked record: its patient, nobody else."""
    return {
        "admin": 403,
        "receptionist": 403,
        "doctor": 403,
        "patient": ok,
        "other_patient": 404,
        "outsider": PATIENT_LOGIN,
        "anonymous": PATIENT_LOGIN,
    }


def desk_page(ok: int) -> dict[str, int | str]:
    """The front desk's portal card on a profile, and what its buttons send."""
    return {
        "admin": ok,
        "receptionist": ok,
        "doctor": 403,
        "patient": 403,
        "other_patient": 403,
        "outsider": STAFF_LOGIN,
        "anonymous": STAFF_LOGIN,
    }


# url name → (expected on GET, expected on POST), None where the page takes no such method
MATRIX: dict[str, tuple[dict | None, dict | None]] = {
    "home": (
        {**patients_page(200), "other_patient": 200},  # an account with no records is told so
        None,
    ),
    "patient": (patients_page(200), None),
    "book": (patients_page(200), patients_page(422)),  # the POST's start is not a free time
    "access_log": (patients_page(200), None),
    "cancel": (None, patients_page(302)),
    "prescription_pdf": (patients_page(202), None),  # being made
    "invite_card": (desk_page(200), None),
    "invite_send": (None, desk_page(302)),
    "invite_revoke": (None, desk_page(302)),
    "account_link": (None, desk_page(302)),
    "account_unlink": (None, desk_page(302)),
    "account_deactivate": (None, desk_page(302)),
}
# Open to anyone: signing in and out, the language, and the invitation's link (its own tests).
OPEN = {"login", "logout", "language", "activate"}


class World:
    def __init__(self, stmarys, riverside):
        self.branch = stmarys
        made = register(stmarys, full_name="Matrix Patient", date_of_birth="1977-07-07", email="matrix@example.org")
        other = register(stmarys, full_name="Matrix Carer", date_of_birth="1960-06-06")
        doctor = stmarys.user(Role.DOCTOR)
        assign(stmarys, made["id"], doctor)
        self.prescription = prescribe(stmarys, doctor, made["id"])
        with schema_context(stmarys.schema):
            desk = stmarys.user(Role.RECEPTIONIST)
            self.patient = Patient.objects.get(pk=made["id"])
            self.account = User.objects.create_user(username="matrix@example.org", role=Role.PATIENT, password=PASSWORD)
            self.other_account = User.objects.create_user(
                username="carer@example.org", role=Role.PATIENT, password=PASSWORD
            )
            portal_link(account=self.account, patient=self.patient, relationship="self", linked_by=desk)
            carer_of = Patient.objects.get(pk=other["id"])
            portal_link(account=self.account, patient=carer_of, relationship="carer", linked_by=desk)
            self.invite = portal_invite(patient=self.patient, invited_by=desk, channel="email")
            start = timezone.now() + dt.timedelta(days=5)
            self.visit = Appointment.objects.create(
                patient=self.patient,
                doctor=doctor,
                treatment=Treatment.objects.create(name="Matrix check", code="MTX", duration_minutes=15),
                start=start,
                end=start + dt.timedelta(minutes=15),
            )
        self.riverside = riverside

    def client(self, caller: str):
        users = {
            "admin": Role.HOSPITAL_ADMIN,
            "receptionist": Role.RECEPTIONIST,
            "doctor": Role.DOCTOR,
        }
        if caller in users:
            return self.branch.client(self.branch.user(users[caller]))
        if caller == "patient":
            return self.branch.client(self.account)
        if caller == "other_patient":
            return self.branch.client(self.other_account)
        if caller == "outsider":  # signed in at riverside, with a session cookie this host ignores
            outsider = self.riverside.client(self.riverside.user(Role.PATIENT))
            outsider.defaults["HTTP_HOST"] = self.branch.host
            return outsider
        return self.branch.client()

    def url(self, name: str) -> str:
        args = {
            "patient": [self.patient.pk],
            "book": [self.patient.pk],
            "access_log": [self.patient.pk],
            "cancel": [self.visit.pk],
            "prescription_pdf": [self.prescription],
            "invite_card": [self.patient.pk],
            "invite_send": [self.patient.pk],
            "invite_revoke": [self.invite.pk],
            "account_link": [self.patient.pk],
            "account_unlink": [self.patient.pk, self.account.pk],
            "account_deactivate": [self.patient.pk, self.account.pk],
        }.get(name, [])
        return reverse(f"portal:{name}", args=args)

    def body(self, name: str) -> dict:
        if name == "book":
            return {"start": "2001-01-01T09:00:00+00:00"}
        if name == "account_link":  # the desk's confirmation of the account it found
            return {"confirm": str(self.other_account.pk), "relationship": "carer"}
        return {}

    def state(self) -> tuple:
        with schema_context(self.branch.schema):
            return (
                sorted(PatientLink.objects.values_list("account_id", "patient_id")),
                sorted(PortalInvite.objects.values_list("pk", "revoked_at")),
                sorted(Appointment.objects.values_list("pk", "status")),
                sorted(User.objects.filter(role=Role.PATIENT).values_list("pk", "is_active")),
            )


@pytest.fixture
def world(stmarys, riverside):
    return World(stmarys, riverside)


def _outcome(response) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith(reverse("portal:login")):
            return PATIENT_LOGIN
        if location.startswith(reverse("accounts:login")):
            return STAFF_LOGIN
    return response.status_code


def test_every_portal_page_is_in_the_matrix():
    portal = get_resolver("config.urls_branch").namespace_dict["portal"][1]
    names = {pattern.name for pattern in portal.url_patterns}
    assert names == set(MATRIX) | OPEN


@pytest.mark.parametrize("name", sorted(name for name, (get, _post) in MATRIX.items() if get))
@pytest.mark.parametrize("caller", CALLERS)
def test_opening_a_page(world, name, caller):
    expected = MATRIX[name][0][caller]

    response = world.client(caller).get(world.url(name))

    assert _outcome(response) == expected


@pytest.mark.parametrize("name", sorted(name for name, (_get, post) in MATRIX.items() if post))
@pytest.mark.parametrize("caller", CALLERS)
def test_sending_a_page(world, name, caller):
    expected = MATRIX[name][1][caller]
    before = world.state()

    response = world.client(caller).post(world.url(name), world.body(name))

    assert _outcome(response) == expected
    if expected not in (200, 302):
        assert world.state() == before
