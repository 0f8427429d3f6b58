"""GET /api/portal/me/: the patient account and the records it acts for; staff tokens, no token
and another branch's token are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from portal.models import PatientLink
from portal.services import portal_link
from scheduling.models import Appointment
from tests.clinical.conftest import register

pytestmark = pytest.mark.django_db


def _account_with(branch, *full_names: str) -> User:
    """A patient account of ``branch`` linked to new records with these names."""
    records = [register(branch, full_name=name, date_of_birth="2015-03-03") for name in full_names]
    with schema_context(branch.schema):
        account = User.objects.create_user(username="parent@example.org", role=Role.PATIENT, password="x" * 20)
        desk = branch.user(Role.RECEPTIONIST)
        for made, relationship in zip(records, ["self", "parent"], strict=False):
            portal_link(
                account=account,
                patient=Patient.objects.get(pk=made["id"]),
                relationship=relationship,
                linked_by=desk,
            )
    return account


def test_a_parent_sees_their_own_record_and_their_childs(stmarys):
    account = _account_with(stmarys, "Parent Person", "Child Person")

    answer = stmarys.api(account).get("/api/portal/me/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["username"] == "parent@example.org"
    assert [(p["full_name"], p["relationship"]) for p in body["patients"]] == [
        ("Parent Person", "self"),
        ("Child Person", "parent"),
    ]


@pytest.mark.parametrize("role", [Role.HOSPITAL_ADMIN, Role.RECEPTIONIST, Role.DOCTOR])
def test_a_staff_token_is_refused_on_the_portal(stmarys, role):
    staff = stmarys.api(stmarys.user(role))
    patient = register(stmarys, full_name="Staff Probe", date_of_birth="1980-01-01")

    assert staff.get("/api/portal/me/").status_code == 403
    assert staff.get("/api/portal/appointments/", {"patient": patient["id"]}).status_code == 403
    assert staff.get("/api/portal/prescriptions/", {"patient": patient["id"]}).status_code == 403


def test_no_token_or_another_branchs_token_is_401(stmarys, riverside):
    account = _account_with(stmarys, "Only Here")
    stranger = stmarys.api()
    with_riverside_token = riverside.api(riverside.user(Role.PATIENT))
    with_riverside_token.defaults["HTTP_HOST"] = stmarys.host

    assert stranger.get("/api/portal/me/").status_code == 401
    assert with_riverside_token.get("/api/portal/me/").status_code == 401
    assert stmarys.api(account).get("/api/portal/me/").status_code == 200


def test_an_account_without_links_sees_none(stmarys):
    answer = stmarys.api(stmarys.user(Role.PATIENT)).get("/api/portal/me/")

    assert answer.status_code == 200
    assert answer.json()["patients"] == []
    with schema_context(stmarys.schema):
        assert not PatientLink.objects.exists()


def _visit(branch, patient_id, start: dt.datetime, status: str = "booked") -> Appointment:
    with schema_context(branch.schema):
        treatment = Treatment.objects.get_or_create(
            code="PORT", defaults={"name": "Portal check", "duration_minutes": 15}
        )[0]
        return Appointment.objects.create(
            patient_id=patient_id,
            doctor=branch.user(Role.DOCTOR),
            treatment=treatment,
            start=start,
            end=start + dt.timedelta(minutes=15),
            status=status,
        )


def test_a_parent_lists_their_childs_visits_and_no_one_elses(stmarys, riverside):
    account = _account_with(stmarys, "Parent Visits", "Child Visits")
    with schema_context(stmarys.schema):
        parent_id, child_id = (
            PatientLink.objects.filter(account=account).order_by("linked_at", "pk").values_list("patient_id", flat=True)
        )
    stranger = register(stmarys, full_name="Not Linked", date_of_birth="1999-09-09")
    elsewhere = register(riverside, full_name="Other Branch", date_of_birth="1999-09-09")
    now = timezone.now().replace(microsecond=0)
    later = _visit(stmarys, child_id, now + dt.timedelta(days=9))
    sooner = _visit(stmarys, child_id, now + dt.timedelta(days=2))
    past = _visit(stmarys, child_id, now - dt.timedelta(days=3), status="completed")
    _visit(stmarys, child_id, now + dt.timedelta(days=4), status="cancelled")
    _visit(stmarys, parent_id, now + dt.timedelta(days=1))
    app = stmarys.api(account)

    upcoming = app.get("/api/portal/appointments/", {"patient": child_id, "upcoming": "true"})
    before = app.get("/api/portal/appointments/", {"patient": child_id, "upcoming": "false"})
    not_linked = app.get("/api/portal/appointments/", {"patient": stranger["id"]})
    other_branch = app.get("/api/portal/appointments/", {"patient": elsewhere["id"]})
    no_patient = app.get("/api/portal/appointments/")

    assert upcoming.status_code == 200
    body = upcoming.json()
    assert [item["id"] for item in body["items"]] == [str(sooner.pk), str(later.pk)]
    assert (body["count"], body["page"], body["page_size"]) == (2, 1, 20)
    first = body["items"][0]
    assert first["time_zone"] == "Europe/London"
    assert dt.datetime.fromisoformat(first["start"]) == sooner.start
    assert first["treatment"]["name"] == "Portal check"
    assert [item["id"] for item in before.json()["items"]] == [str(past.pk)]
    assert not_linked.status_code == 404
    assert other_branch.status_code == 404
    assert no_patient.status_code == 422


def test_a_linked_visit_comes_as_a_calendar_file_and_no_one_elses(stmarys):
    account = _account_with(stmarys, "Calendar Parent", "Calendar Child")
    with schema_context(stmarys.schema):
        child_id = (
            PatientLink.objects.filter(account=account)
            .order_by("linked_at", "pk")
            .values_list("patient_id", flat=True)[1]
        )
    stranger = register(stmarys, full_name="Calendar Stranger", date_of_birth="1999-09-09")
    start = timezone.now().replace(microsecond=0, second=0) + dt.timedelta(days=5)
    mine = _visit(stmarys, child_id, start)
    theirs = _visit(stmarys, stranger["id"], start + dt.timedelta(hours=1))
    app = stmarys.api(account)

    calendar = app.get(f"/api/portal/appointments/{mine.pk}/ics/")
    refused = app.get(f"/api/portal/appointments/{theirs.pk}/ics/")

    assert calendar.status_code == 200
    assert calendar["Content-Type"].startswith("text/calendar")
    text = calendar.content.decode()
    assert f"DTSTART:{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}" in text
    assert "Portal check" not in text  # the treatment stays out of a calendar others may see
    assert refused.status_code == 404


def test_the_api_answers_in_the_accounts_own_language(stmarys):
    account = stmarys.user(Role.PATIENT)
    with schema_context(stmarys.schema):
        User.objects.filter(pk=account.pk).update(preferred_language="ar")
        account.refresh_from_db()
    app = stmarys.api(account)

    answer = app.get("/api/portal/appointments/", {"patient": "00000000-0000-0000-0000-000000000000"})
    english = stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/patients/00000000-0000-0000-0000-000000000000/")

    assert answer.status_code == 404
    assert answer["Content-Language"] == "ar"
    assert answer.json()["detail"] != "No such patient."
    assert english["Content-Language"] == "en"
    assert english.json()["detail"] == "No such patient."


def test_a_patient_signs_in_with_their_phone_number_as_they_write_it(stmarys):
    with schema_context(stmarys.schema):
        User.objects.create_user(username="+447911123456", role=Role.PATIENT, password="p" * 20)

    national = stmarys.api().post(
        "/api/auth/token/", {"username": "07911 123456", "password": "p" * 20}, content_type="application/json"
    )
    spaced = stmarys.api().post(
        "/api/auth/token/", {"username": "+44 7911 123456", "password": "p" * 20}, content_type="application/json"
    )

    assert national.status_code == spaced.status_code == 200
    assert national.json()["role"] == "patient"
