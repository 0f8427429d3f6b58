"""The portal's web pages under /portal/: patients sign in (staff are refused), choose a linked
record, book from the free times, cancel up to the cut-off, download prescriptions and read who
opened the record, in their language (right to left in Arabic). Any other record is 404."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from clinical.models import Prescription
from clinical.tasks import prescription_render
from portal.services import portal_link
from scheduling.models import Appointment
from scheduling.services import appointment_book
from tenants.models import Hospital
from tests.clinical.conftest import assign, prescribe
from tests.conftest import PASSWORD
from tests.scheduling.conftest import at, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def parent(clinic, stmarys):
    """A parent's account linked to the clinic's first patient (their child) and to nobody else."""
    with schema_context(stmarys.schema):
        account = User.objects.create_user(username="web.parent@example.org", role=Role.PATIENT, password=PASSWORD)
        portal_link(account=account, patient=clinic["first"], relationship="parent", linked_by=clinic["desk"])
    return {**clinic, "account": account, "web": stmarys.client(account)}


def test_a_patient_signs_in_on_the_portal_and_staff_are_sent_to_their_own_page(parent, stmarys):
    anonymous = stmarys.client()

    asked = anonymous.get("/portal/")
    form = anonymous.get("/portal/login/")
    staff = anonymous.post("/portal/login/", {"username": "doctor@stmarys.test", "password": PASSWORD})
    signed_in = anonymous.post("/portal/login/", {"username": "web.parent@example.org", "password": PASSWORD})
    landing = anonymous.get("/portal/", follow=True)

    assert asked.status_code == 302
    assert asked["Location"] == "/portal/login/?next=/portal/"
    assert form.status_code == 200
    assert "This sign-in is for patients" in staff.content.decode()
    assert signed_in.status_code == 302
    # one linked record: straight to it
    assert landing.redirect_chain[-1][0] == f"/portal/patients/{parent['first'].pk}/"
    assert "First Patient" in landing.content.decode()


def test_a_staff_session_is_refused_on_the_portals_pages(parent, stmarys):
    desk = stmarys.client(parent["desk"])

    assert desk.get("/portal/").status_code == 403
    assert desk.get(f"/portal/patients/{parent['first'].pk}/").status_code == 403


def test_a_record_not_linked_to_the_account_is_404_on_every_page(parent, stmarys):
    web, other = parent["web"], parent["second"]
    visit = appointment_book(
        patient=other,
        doctor=parent["doctor"],
        treatment=parent["treatment"],
        start=at(next_weekday(2), 10),
        booked_by=parent["desk"],
    )

    assert web.get(f"/portal/patients/{other.pk}/").status_code == 404
    assert web.get(f"/portal/patients/{other.pk}/book/").status_code == 404
    assert web.get(f"/portal/patients/{other.pk}/access-log/").status_code == 404
    assert web.post(f"/portal/visits/{visit.pk}/cancel/").status_code == 404
    visit.refresh_from_db()
    assert visit.status == "booked"


def test_a_parent_books_a_free_time_and_a_time_taken_meanwhile_is_refused(parent, stmarys):
    web, doctor, treatment = parent["web"], parent["doctor"], parent["treatment"]
    day = next_weekday(3)
    query = {"doctor": doctor.pk, "treatment": treatment.pk, "date": day.isoformat()}

    page = web.get(f"/portal/patients/{parent['first'].pk}/book/", query)
    slot = at(day, 9).isoformat()
    booked = web.post(f"/portal/patients/{parent['first'].pk}/book/", {**query, "start": slot}, follow=True)
    # someone else takes 09:15 while the page is open
    appointment_book(
        patient=parent["second"], doctor=doctor, treatment=treatment, start=at(day, 9, 15), booked_by=parent["desk"]
    )
    taken = web.post(f"/portal/patients/{parent['first'].pk}/book/", {**query, "start": at(day, 9, 15).isoformat()})
    forged = web.post(f"/portal/patients/{parent['first'].pk}/book/", {**query, "start": at(day, 9, 7).isoformat()})

    assert page.status_code == 200
    assert f'data-start="{slot}"' in page.content.decode()
    assert booked.status_code == 200
    assert "Booked: Consultation" in booked.content.decode()
    assert taken.status_code == 409
    assert "already booked at 09:15" in taken.content.decode()
    assert forged.status_code == 422
    mine = Appointment.objects.filter(patient=parent["first"]).values_list("start", flat=True)
    assert list(mine) == [at(day, 9)]


def test_a_visit_is_cancelled_before_the_cut_off_and_the_page_says_to_call_after_it(parent, stmarys):
    web = parent["web"]
    now = timezone.now()
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(contact_phone="+44 20 7946 0000")
    connection.set_tenant(Hospital.objects.get(pk=stmarys.hospital.pk))
    visits = {
        name: Appointment.objects.create(
            patient=parent["first"],
            doctor=parent["doctor"],
            treatment=parent["treatment"],
            start=now + dt.timedelta(hours=hours),
            end=now + dt.timedelta(hours=hours, minutes=15),
        )
        for name, hours in (("soon", 3), ("later", 50))
    }

    page = web.get(f"/portal/patients/{parent['first'].pk}/").content.decode()
    too_late = web.post(f"/portal/visits/{visits['soon'].pk}/cancel/", follow=True)
    in_time = web.post(f"/portal/visits/{visits['later'].pk}/cancel/", follow=True)

    assert page.count('aria-label="Cancel the visit on') == 1
    assert "To cancel now, call the branch on +44 20 7946 0000." in page
    assert "up to 24 hours before" in too_late.content.decode()
    assert "The visit is cancelled." in in_time.content.decode()
    for visit in visits.values():
        visit.refresh_from_db()
    assert (visits["soon"].status, visits["later"].status) == ("booked", "cancelled")


def test_a_prescription_is_downloaded_once_it_is_made(parent, stmarys):
    web = parent["web"]
    assign(stmarys, str(parent["first"].pk), parent["doctor"])
    prescription_id = prescribe(stmarys, parent["doctor"], str(parent["first"].pk), diagnosis="Secret diagnosis")
    connection.set_tenant(stmarys.hospital)

    listed = web.get(f"/portal/patients/{parent['first'].pk}/").content.decode()
    pending = web.get(f"/portal/prescriptions/{prescription_id}/pdf/")
    prescription_render(prescription_id)
    ready = web.get(f"/portal/prescriptions/{prescription_id}/pdf/")

    assert "Paracetamol" in listed
    assert "Secret diagnosis" not in listed
    assert pending.status_code == 202
    assert "being prepared" in pending.content.decode()
    assert ready.status_code == 200
    assert ready["Content-Type"] == "application/pdf"
    assert b"".join(ready.streaming_content).startswith(b"%PDF")
    Prescription.objects.get(pk=prescription_id).pdf_file.delete(save=False)


def test_the_access_log_page_shows_roles_and_names_only_where_the_branch_allows(parent, stmarys):
    doctor = parent["doctor"]
    assign(stmarys, str(parent["first"].pk), doctor)
    assert stmarys.api(doctor).get(f"/api/patients/{parent['first'].pk}/").status_code == 200

    by_role = parent["web"].get(f"/portal/patients/{parent['first'].pk}/access-log/").content.decode()
    Hospital.objects.filter(pk=stmarys.hospital.pk).update(portal_names_staff=True)
    by_name = parent["web"].get(f"/portal/patients/{parent['first'].pk}/access-log/").content.decode()

    assert "Opened the profile" in by_role
    assert "Doctor" in by_role
    assert doctor.full_name not in by_role
    assert doctor.full_name in by_name


def test_the_portal_speaks_the_patients_language_right_to_left_in_arabic(parent, stmarys):
    web = parent["web"]

    chosen = web.post("/portal/language/", {"language": "ar", "next": "/portal/"})
    page = web.get(f"/portal/patients/{parent['first'].pk}/").content.decode()
    refused = web.post("/portal/language/", {"language": "hi", "next": "https://evil.example/"})

    assert chosen.status_code == 302
    assert 'dir="rtl"' in page
    assert 'lang="ar"' in page
    assert refused["Location"] == "/portal/"  # not a language of this branch; not a redirect elsewhere
    parent["account"].refresh_from_db()
    assert parent["account"].preferred_language == "ar"


def test_a_doctor_or_treatment_gone_since_the_page_was_opened_is_not_swapped_for_another(parent, stmarys):
    web, day = parent["web"], next_weekday(3)
    query = {"doctor": 999_999, "treatment": parent["treatment"].pk, "date": day.isoformat()}

    refused = web.post(f"/portal/patients/{parent['first'].pk}/book/", {**query, "start": at(day, 9).isoformat()})

    assert refused.status_code == 422
    assert "no longer offered" in refused.content.decode()
    assert not Appointment.objects.filter(patient=parent["first"]).exists()


def test_a_patient_left_idle_is_sent_to_the_portals_sign_in_with_the_page_to_come_back_to(parent, stmarys, settings):
    settings.SESSION_IDLE_MINUTES = 15
    web = parent["web"]
    session = web.session
    session["last_activity"] = time.time() - 16 * 60
    session.save()
    page = f"/portal/patients/{parent['first'].pk}/book/?doctor={parent['doctor'].pk}&date=2030-01-01"

    answer = web.get(page)

    assert answer.status_code == 302
    assert answer["Location"] == "/portal/login/?next=" + quote(page, safe="/")


def test_the_prescription_page_asks_in_the_background_whether_the_pdf_is_made(parent, stmarys):
    web = parent["web"]
    assign(stmarys, str(parent["first"].pk), parent["doctor"])
    prescription_id = prescribe(stmarys, parent["doctor"], str(parent["first"].pk))
    connection.set_tenant(stmarys.hospital)

    before = web.get(f"/portal/prescriptions/{prescription_id}/pdf/", {"status": "1"}, HTTP_X_BACKGROUND="1")
    prescription_render(prescription_id)
    after = web.get(f"/portal/prescriptions/{prescription_id}/pdf/", {"status": "1"}, HTTP_X_BACKGROUND="1")
    Prescription.objects.get(pk=prescription_id).pdf_file.delete(save=False)  # made, but its file is gone
    missing = web.get(f"/portal/prescriptions/{prescription_id}/pdf/")

    assert before.json() == {"ready": False}
    assert after.json() == {"ready": True}
    assert missing.status_code == 503  # not a page that waits for ever
    assert "could not be made just now" in missing.content.decode()
