"""The patient portal end to end, as the mobile app goes through it: the desk invites a parent,
the link makes their account, the desk links their child; the app signs in, books the child a
visit, downloads the PDF of the child's prescription that a real worker renders, cancels the
visit, refreshes its tokens and signs out. A branch's token is worth nothing at another branch."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
from contextlib import contextmanager

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiToken, Role, User
from clinical.models import Patient, Prescription, Treatment, TreatmentRecord
from portal.models import PatientLink, PortalInvite
from portal.services import portal_link
from scheduling.models import Appointment, IdempotentRequest, WorkingHours
from tests.clinical.conftest import assign, post, record, register
from tests.portal.test_invites import _link_path
from tests.scheduling.conftest import at

PARENT_EMAIL = "jordan.journey@example.org"
PASSWORD = "a-long-journey-passphrase"


def _app(branch, access: str | None = None) -> Client:
    """The mobile app talking to a branch's host, with an access token once it has one."""
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    return Client(HTTP_HOST=branch.host, headers=headers)


@contextmanager
def _held(worker):
    """The worker stopped for a while, as a worker busy with other work is: what is sent to it
    meanwhile waits until it is let go. The render takes a fifth of a second, so without this the
    app's first ask could as well find the PDF made as not."""
    os.kill(worker.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)


def _pdf_when_ready(app: Client, prescription_id: str, timeout: float = 30):
    """Ask for the PDF as the app does, again while the answer says to wait (202)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = app.get(f"/api/portal/prescriptions/{prescription_id}/pdf/")
        if answer.status_code != 202:
            return answer
        assert answer["Retry-After"] == "2"
        assert time.monotonic() < deadline, f"the PDF of {prescription_id} was not ready within {timeout}s"
        time.sleep(0.2)  # the app waits Retry-After; the test need not


def _signed_out(branch, client: Client) -> None:
    with schema_context(branch.schema):
        client.logout()


def _remove(branch, made: dict) -> None:
    """Everything the journey made, in one transaction: rows pointing at the account or the
    records go before them, whatever step the test stopped at."""
    with schema_context(branch.schema), transaction.atomic():
        patients = made["patients"]
        # Locked first: a render still running (a test stopped midway) is waited for, and its file
        # is then seen here and deleted.
        for prescription in Prescription.objects.select_for_update().filter(record__patient_id__in=patients):
            if prescription.pdf_file:
                prescription.pdf_file.delete(save=False)
            prescription.delete()
        TreatmentRecord.objects.filter(patient_id__in=patients).delete()
        Appointment.objects.filter(patient_id__in=patients).delete()
        accounts = User.objects.filter(username=PARENT_EMAIL)
        IdempotentRequest.objects.filter(user__in=accounts).delete()
        PatientLink.objects.filter(account__in=accounts).delete()
        PortalInvite.objects.filter(patient_id__in=patients).delete()
        Patient.objects.filter(pk__in=patients).delete()
        accounts.delete()
        # The staff's tokens: register(), assign() and record() sign in through the API.
        ApiToken.objects.filter(user__in=made["staff"]).delete()
        Treatment.objects.filter(code="JRNY").delete()
        WorkingHours.objects.filter(pk__in=made["hours"]).delete()


@pytest.mark.worker
def test_a_parent_goes_from_invitation_to_sign_out_through_the_app(committed, celery_worker):
    stmarys = committed.branch("stmarys")
    desk, doctor, admin = (stmarys.user(role) for role in (Role.RECEPTIONIST, Role.DOCTOR, Role.HOSPITAL_ADMIN))
    made = {"patients": [], "hours": [], "staff": [desk, doctor, admin]}
    committed.cleanup(lambda: _remove(stmarys, made))
    # Three days ahead: well before the branch's 24-hour cut-off for cancelling in the portal.
    day = timezone.localdate() + dt.timedelta(days=3)
    with schema_context(stmarys.schema):
        made["hours"].append(
            WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12)).pk
        )
        treatment = Treatment.objects.create(name="Journey consultation", code="JRNY", duration_minutes=20)

    # 1. the desk registers a parent and their child, and invites the parent to the portal
    parent = register(stmarys, full_name="Jordan Journey", date_of_birth="1984-02-29", email=PARENT_EMAIL)
    made["patients"].append(parent["id"])
    child = register(
        stmarys,
        full_name="Robin Journey",
        gender="male",
        date_of_birth="2017-09-01",
        contact={"name": "Jordan Journey", "relation": "parent"},
    )
    made["patients"].append(child["id"])
    stranger = register(stmarys, full_name="Sasha Stranger", date_of_birth="1979-11-11")
    made["patients"].append(stranger["id"])
    desk_browser = stmarys.client(desk)
    committed.cleanup(lambda: _signed_out(stmarys, desk_browser))
    invited = desk_browser.post(f"/patients/{parent['id']}/portal/invite/")
    mail = celery_worker.wait_for_mail(f"To: {PARENT_EMAIL}")

    assert invited.status_code == 302
    assert "St Mary's Hospital" in mail

    # the parent opens the link in the e-mail and chooses a password
    link = _link_path(mail)
    browser = Client(HTTP_HOST=stmarys.host)
    opened = browser.get(link)
    activated = browser.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    used_again = browser.get(link)

    assert opened.status_code == 200
    assert 'id="activate-form"' in opened.content.decode()
    assert activated.status_code == 200
    assert 'id="invite-done"' in activated.content.decode()
    assert PARENT_EMAIL in activated.content.decode()
    assert used_again.status_code == 410

    # 2. the desk links the child's record to the new account, from the child's profile: it finds
    # the account, sees whose it is, and confirms
    found = desk_browser.post(
        f"/patients/{child['id']}/portal/link/",
        {"account": PARENT_EMAIL, "relationship": "parent"},
        HTTP_HX_REQUEST="true",
    )
    confirm = re.search(r'name="confirm" value="(\d+)"', found.content.decode()).group(1)
    linked = desk_browser.post(
        f"/patients/{child['id']}/portal/link/",
        {"confirm": confirm, "relationship": "parent"},
        HTTP_HX_REQUEST="true",
    )

    assert linked.status_code == 200, linked.content
    assert f"Account {PARENT_EMAIL}" in linked.content.decode()

    # 3. the app signs in
    signed_in = post(_app(stmarys), "/api/auth/token/", {"username": PARENT_EMAIL, "password": PASSWORD})

    assert signed_in.status_code == 200, signed_in.content
    tokens = signed_in.json()
    assert tokens["role"] == "patient"
    app = _app(stmarys, tokens["access"])

    # 4. whom the account acts for; a doctor, a treatment and a free time
    me = app.get("/api/portal/me/")
    doctors = app.get("/api/doctors/")
    treatments = app.get("/api/treatments/")
    slots = app.get(f"/api/doctors/{doctor.pk}/slots/", {"date": day.isoformat(), "treatment": treatment.pk})

    assert me.status_code == 200
    assert me.json()["username"] == PARENT_EMAIL
    assert {(p["id"], p["full_name"], p["relationship"]) for p in me.json()["patients"]} == {
        (parent["id"], "Jordan Journey", "self"),
        (child["id"], "Robin Journey", "parent"),
    }
    assert doctor.pk in [d["id"] for d in doctors.json()]
    assert (treatment.pk, "Journey consultation") in [(t["id"], t["name"]) for t in treatments.json()]
    assert slots.status_code == 200, slots.content
    first_free = dt.datetime.fromisoformat(slots.json()["slots"][0])
    assert first_free == at(day, 9)

    # 5. the app books it for the child; the phone's retry gets the same visit
    booking = {"patient": child["id"], "doctor_id": doctor.pk, "treatment_id": treatment.pk, "start": first_free}
    key = {"Idempotency-Key": "journey-booking-1"}
    booked = app.post("/api/portal/appointments/", booking, content_type="application/json", headers=key)
    retried = app.post("/api/portal/appointments/", booking, content_type="application/json", headers=key)
    upcoming = app.get("/api/portal/appointments/", {"patient": child["id"], "upcoming": "true"})
    not_theirs = app.post(
        "/api/portal/appointments/",
        {**booking, "patient": stranger["id"], "start": first_free + dt.timedelta(minutes=20)},
        content_type="application/json",
    )

    assert booked.status_code == 201, booked.content
    visit = booked.json()
    assert visit["status"] == "booked"
    assert dt.datetime.fromisoformat(visit["start"]) == at(day, 9)
    assert visit["time_zone"] == "Europe/London"
    assert (visit["doctor"]["id"], visit["treatment"]["name"]) == (doctor.pk, "Journey consultation")
    assert retried.status_code == 201
    assert retried.json() == visit
    assert [v["id"] for v in upcoming.json()["items"]] == [visit["id"]]
    assert not_theirs.status_code == 404
    assert not_theirs.json()["code"] == "not_found"
    with schema_context(stmarys.schema):
        booked_for = Appointment.objects.filter(patient_id__in=made["patients"]).values_list("patient_id", flat=True)
        assert [str(patient_id) for patient_id in booked_for] == [child["id"]]  # once, and only for the child

    # 6. the doctor records the child's visit with a prescription, while the worker is busy
    assign(stmarys, child["id"], doctor)
    with _held(celery_worker):
        recorded = record(
            stmarys,
            doctor,
            child["id"],
            diagnosis="Acute otitis media",
            icd10_code="H66.90",
            clinical_notes="Bulging left eardrum.",
            patient_advice="Give the whole course, even once he feels better.",
            prescriptions=[
                {"medicine": "Amoxicillin", "dose": "5 ml", "frequency": "three times a day", "duration": "7 days"}
            ],
        )
        timeline = app.get("/api/portal/timeline/", {"patient": child["id"]})
        [entry] = timeline.json()["items"]
        prescription_id = entry["prescription"]["id"]
        pending = app.get(f"/api/portal/prescriptions/{prescription_id}/pdf/")
    # then the worker renders it, and the app's next tries get it
    pdf = _pdf_when_ready(app, prescription_id)

    assert timeline.status_code == 200
    assert prescription_id == recorded["prescription"]["id"]
    assert entry["advice"] == "Give the whole course, even once he feels better."
    assert [line["medicine"] for line in entry["prescription"]["lines"]] == ["Amoxicillin"]
    assert "otitis" not in json.dumps(timeline.json()).lower()  # the diagnosis stays with the staff
    assert "eardrum" not in json.dumps(timeline.json())  # and so do the clinical notes
    assert entry["prescription"]["pdf_status"] == "pending"
    assert pending.status_code == 202
    assert pending["Retry-After"] == "2"
    assert pdf.status_code == 200, pdf.content[:300]
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    # 7. the app cancels the visit, more than a day before it
    cancelled = post(app, f"/api/portal/appointments/{visit['id']}/cancel/", {"reason": "He is better"})
    upcoming_after = app.get("/api/portal/appointments/", {"patient": child["id"], "upcoming": "true"})

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellable_until"] is None
    assert upcoming_after.json()["items"] == []

    # 8. the app swaps its refresh token for new ones, as it does when its access token runs out
    refreshed = post(_app(stmarys), "/api/auth/refresh/", {"refresh": tokens["refresh"]})
    spent_again = post(_app(stmarys), "/api/auth/refresh/", {"refresh": tokens["refresh"]})

    assert refreshed.status_code == 200, refreshed.content
    fresh = refreshed.json()
    assert fresh["access"] != tokens["access"]
    assert fresh["refresh"] != tokens["refresh"]
    assert _app(stmarys, fresh["access"]).get("/api/portal/me/").status_code == 200
    assert spent_again.status_code == 401  # a refresh token works once

    # 9. the app signs out: no token of that sign-in works any more
    signed_out = _app(stmarys, fresh["access"]).post("/api/auth/logout/")

    assert signed_out.status_code == 204
    assert _app(stmarys, tokens["access"]).get("/api/portal/me/").status_code == 401
    assert _app(stmarys, fresh["access"]).get("/api/portal/me/").status_code == 401
    assert post(_app(stmarys), "/api/auth/refresh/", {"refresh": fresh["refresh"]}).status_code == 401


@pytest.mark.django_db
def test_a_portal_token_of_one_branch_is_refused_at_another(stmarys, riverside):
    # given the same person with an account of the same name and password at both branches
    for branch in (stmarys, riverside):
        made = register(branch, full_name="Tomas Twobranch", date_of_birth="1990-01-01")
        with schema_context(branch.schema):
            account = User.objects.create_user(username="tomas@example.org", role=Role.PATIENT, password=PASSWORD)
            portal_link(
                account=account,
                patient=Patient.objects.get(pk=made["id"]),
                relationship="self",
                linked_by=branch.user(Role.RECEPTIONIST),
            )
    signed_in = post(_app(stmarys), "/api/auth/token/", {"username": "tomas@example.org", "password": PASSWORD})
    access = signed_in.json()["access"]

    # when the app sends St Mary's token to Riverside
    at_home = _app(stmarys, access).get("/api/portal/me/")
    elsewhere = _app(riverside, access).get("/api/portal/me/")

    # then
    assert at_home.status_code == 200
    assert elsewhere.status_code == 401
    assert "Twobranch" not in elsewhere.content.decode()
