"""The hospital admin's clinical pages: assignments, break-glass review, the audit trail and its
export, the treatments catalogue; and nobody else reaches them."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import user_role_group_set
from clinical.models import AuditEvent, BreakGlassAccess, Treatment
from tests.clinical.conftest import post, register

pytestmark = pytest.mark.django_db

EMERGENCY = "Unconscious in the emergency room, the assigned doctor is off site"


def admin_client(branch):
    return branch.client(branch.user(Role.HOSPITAL_ADMIN))


def html(response) -> str:
    return response.content.decode()


def section(page: str, element_id: str) -> str:
    """The table with this id, so that a check looks where a user would."""
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</table>", start)]


def doctor_named(branch, full_name: str) -> User:
    with schema_context(branch.schema):
        connection.set_tenant(branch.hospital)
        doctor = User.objects.create_user(
            username="named-doctor@stmarys.test",
            email="named-doctor@stmarys.test",
            role=Role.DOCTOR,
            full_name=full_name,
        )
        user_role_group_set(user=doctor, role=Role.DOCTOR)
        return doctor


# --- assignments ----------------------------------------------------------------------------------


def test_assigning_then_unassigning_a_doctor_opens_then_closes_the_profile_to_them(stmarys):
    # given
    patient = register(stmarys)
    doctor = stmarys.user(Role.DOCTOR)
    admin = admin_client(stmarys)
    page_url = f"/patients/{patient['id']}/doctors/"
    profile_url = f"/api/patients/{patient['id']}/"
    assert stmarys.api(doctor).get(profile_url).status_code == 403
    page = admin.get(page_url)
    assert page.status_code == 200
    assert patient["mrn"] in html(page)
    assert f'<option value="{doctor.pk}">' in html(page)

    # when
    assigned = admin.post(page_url, {"op": "assign", "doctor": doctor.pk}, follow=True)

    # then
    assert assigned.status_code == 200
    assert f"{doctor.full_name} is assigned" in html(assigned)
    assert f'data-doctor="{doctor.pk}"' in section(html(assigned), "assigned-doctors")
    assert f'<option value="{doctor.pk}">' not in html(assigned)
    assert stmarys.api(doctor).get(profile_url).status_code == 200

    # when
    unassigned = admin.post(page_url, {"op": "unassign", "doctor": doctor.pk}, follow=True)

    # then
    assert "no longer assigned" in html(unassigned)
    assert f'data-doctor="{doctor.pk}"' not in section(html(unassigned), "assigned-doctors")
    assert stmarys.api(doctor).get(profile_url).status_code == 403


def test_assigning_someone_who_is_not_a_doctor_is_refused_with_a_message(stmarys):
    patient = register(stmarys)
    receptionist = stmarys.user(Role.RECEPTIONIST)

    response = admin_client(stmarys).post(
        f"/patients/{patient['id']}/doctors/", {"op": "assign", "doctor": receptionist.pk}, follow=True
    )

    assert "Not a doctor of this branch." in html(response)
    assert 'data-doctor="' not in section(html(response), "assigned-doctors")


def test_the_doctors_page_of_an_unknown_patient_is_404(stmarys):
    response = admin_client(stmarys).get("/patients/00000000-0000-4000-8000-000000000000/doctors/")

    assert response.status_code == 404


# --- break-glass review ---------------------------------------------------------------------------


def test_a_break_glass_access_is_listed_until_marked_reviewed(stmarys, other_doctor):
    # given
    patient = register(stmarys)
    opened = post(stmarys.api(other_doctor), f"/api/patients/{patient['id']}/break-glass/", {"reason": EMERGENCY})
    assert opened.status_code == 201, opened.content
    access_id = opened.json()["id"]
    admin = admin_client(stmarys)

    listed = admin.get("/break-glass/")

    to_review = section(html(listed), "break-glass-to-review")
    assert f'data-access="{access_id}"' in to_review
    assert EMERGENCY in to_review
    assert "Dr Other" in to_review
    assert patient["mrn"] in to_review
    assert "Still active" in to_review

    # when
    reviewed = admin.post("/break-glass/", {"access": access_id, "note": "Confirmed with the ER"}, follow=True)

    # then
    assert reviewed.status_code == 200
    assert "marked reviewed" in html(reviewed)
    assert f'data-access="{access_id}"' not in section(html(reviewed), "break-glass-to-review")
    assert "Confirmed with the ER" in section(html(reviewed), "break-glass-reviewed")
    with schema_context(stmarys.schema):
        assert BreakGlassAccess.objects.get(pk=access_id).reviewed_by_id == stmarys.user(Role.HOSPITAL_ADMIN).pk


def test_reviewing_an_access_twice_says_so(stmarys, other_doctor):
    patient = register(stmarys)
    access_id = post(
        stmarys.api(other_doctor), f"/api/patients/{patient['id']}/break-glass/", {"reason": EMERGENCY}
    ).json()["id"]
    admin = admin_client(stmarys)
    admin.post("/break-glass/", {"access": access_id})

    again = admin.post("/break-glass/", {"access": access_id}, follow=True)

    assert "reviewed already" in html(again)


# --- the audit trail ------------------------------------------------------------------------------


def test_the_audit_trail_filtered_by_denied_shows_an_unassigned_doctors_read(stmarys):
    # given
    patient = register(stmarys)
    doctor = stmarys.user(Role.DOCTOR)
    assert stmarys.api(doctor).get(f"/api/patients/{patient['id']}/").status_code == 403

    # when
    response = admin_client(stmarys).get("/audit/", {"outcome": "denied", "patient": patient["mrn"]})

    # then
    assert response.status_code == 200
    trail = section(html(response), "audit-trail")
    assert 'data-outcome="denied"' in trail
    assert 'data-outcome="allowed"' not in trail
    assert doctor.full_name in trail
    assert "Opened the profile" in trail
    assert patient["mrn"] in trail
    assert "text-danger" in trail


def test_the_audit_trail_unfiltered_shows_the_registration_and_an_unknown_mrn_is_an_error(stmarys):
    patient = register(stmarys)
    admin = admin_client(stmarys)

    everything = admin.get("/audit/")
    unknown = admin.get("/audit/", {"patient": "NOPE999"})

    assert "Registered" in section(html(everything), "audit-trail")
    assert patient["mrn"] in section(html(everything), "audit-trail")
    assert unknown.status_code == 422
    assert "No patient has this id or MRN." in html(unknown)
    assert "data-event=" not in section(html(unknown), "audit-trail")


def test_the_audit_trail_is_paginated_by_fifty(stmarys):
    patient = register(stmarys)
    doctor = stmarys.user(Role.DOCTOR)
    api = stmarys.api(doctor)
    for _ in range(55):
        api.get(f"/api/patients/{patient['id']}/")
    admin = admin_client(stmarys)

    first = section(html(admin.get("/audit/", {"outcome": "denied"})), "audit-trail")
    second = section(html(admin.get("/audit/", {"outcome": "denied", "page": 2})), "audit-trail")

    assert first.count("data-event=") == 50
    assert second.count("data-event=") == 5


def test_the_csv_export_has_a_header_a_row_per_event_and_no_formulas(stmarys):
    # given: a doctor whose name a spreadsheet would run, and whose read is refused
    patient = register(stmarys)
    prankster = doctor_named(stmarys, '=HYPERLINK("http://evil.example","x")')
    assert stmarys.api(prankster).get(f"/api/patients/{patient['id']}/").status_code == 403

    # when
    response = admin_client(stmarys).get("/audit/export.csv")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    branch_today = timezone.localdate(timezone=ZoneInfo(stmarys.hospital.time_zone))
    filename = f"audit-stmarys-{branch_today.isoformat()}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == (
        "id,at,actor_id,actor_name,actor_role,patient_id,action,outcome,break_glass,address,detail,hash,previous_hash"
    )
    rows = list(csv.reader(io.StringIO(body)))
    with schema_context(stmarys.schema):
        assert len(rows) - 1 == AuditEvent.objects.count()
    denied = next(r for r in rows[1:] if r[2] == str(prankster.pk))
    assert denied[3] == '\'=HYPERLINK("http://evil.example","x")'
    assert denied[5] == patient["id"]
    assert denied[7] == "denied"
    assert denied[1].endswith("+00:00")


def test_the_csv_export_applies_the_filters(stmarys):
    patient = register(stmarys)
    stmarys.api(stmarys.user(Role.DOCTOR)).get(f"/api/patients/{patient['id']}/")

    response = admin_client(stmarys).get("/audit/export.csv", {"outcome": "denied"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    assert rows[1][7] == "denied"


# --- the treatments catalogue ---------------------------------------------------------------------


def test_a_treatment_added_on_the_page_is_offered_by_the_api_and_a_duplicate_code_is_refused(stmarys):
    admin = admin_client(stmarys)
    desk_api = stmarys.api(stmarys.user(Role.RECEPTIONIST))

    added = admin.post(
        "/treatments/", {"name": "Wound dressing", "code": "wd-01", "duration_minutes": "20", "active": "on"}
    )
    duplicate = admin.post("/treatments/", {"name": "Another dressing", "code": "WD-01", "duration_minutes": "15"})

    assert added.status_code == 302
    offered = {t["code"]: t for t in desk_api.get("/api/treatments/").json()}
    assert offered["WD-01"]["name"] == "Wound dressing"
    assert offered["WD-01"]["duration_minutes"] == 20
    assert duplicate.status_code == 409
    assert "Another treatment has this code." in html(duplicate)
    assert 'is-invalid text-uppercase font-monospace" type="text" name="code"' in html(duplicate)
    with schema_context(stmarys.schema):
        assert Treatment.objects.filter(name="Another dressing").count() == 0


def test_an_invalid_treatment_shows_inline_errors_with_422(stmarys):
    response = admin_client(stmarys).post("/treatments/", {"name": "", "code": "bad code!", "duration_minutes": "2"})

    assert response.status_code == 422
    page = html(response)
    assert "This field is required." in page
    assert "Letters, digits, dots and dashes." in page
    assert "Between 5 and 480." in page


def test_a_treatment_made_inactive_on_its_edit_page_is_no_longer_offered(stmarys):
    admin = admin_client(stmarys)
    admin.post("/treatments/", {"name": "Nebuliser", "code": "NEB", "duration_minutes": "30", "active": "on"})
    with schema_context(stmarys.schema):
        treatment_id = Treatment.objects.get(code="NEB").pk

    form = admin.get(f"/treatments/{treatment_id}/edit/")
    saved = admin.post(
        f"/treatments/{treatment_id}/edit/", {"name": "Nebuliser", "code": "NEB", "duration_minutes": "30"}
    )

    assert form.status_code == 200
    assert 'value="Nebuliser"' in html(form)
    assert saved.status_code == 302
    listed = html(admin.get("/treatments/"))
    assert "Inactive" in section(listed, "treatments-table")
    codes = [t["code"] for t in stmarys.api(stmarys.user(Role.RECEPTIONIST)).get("/api/treatments/").json()]
    assert "NEB" not in codes


# --- who may open these pages -----------------------------------------------------------------------


def admin_requests(patient_id: str, doctor_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", f"/patients/{patient_id}/doctors/", {}),
        ("post", f"/patients/{patient_id}/doctors/", {"op": "assign", "doctor": doctor_id}),
        ("get", "/break-glass/", {}),
        ("get", "/audit/", {}),
        ("get", "/audit/export.csv", {}),
        ("get", "/treatments/", {}),
        ("post", "/treatments/", {"name": "Sneaky", "code": "SNEAKY", "duration_minutes": "15", "active": "on"}),
    ]


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.RECEPTIONIST, Role.PATIENT])
def test_other_roles_get_403_on_every_admin_page_and_change_nothing(stmarys, role):
    patient = register(stmarys)
    doctor = stmarys.user(Role.DOCTOR)
    client = stmarys.client(stmarys.user(role))

    statuses = {
        (method, path): getattr(client, method)(path, data).status_code
        for method, path, data in admin_requests(patient["id"], doctor.pk)
    }

    assert set(statuses.values()) == {403}, statuses
    assert stmarys.api(doctor).get(f"/api/patients/{patient['id']}/").status_code == 403
    with schema_context(stmarys.schema):
        assert not Treatment.objects.filter(code="SNEAKY").exists()


def test_other_roles_get_403_on_the_treatment_edit_page(stmarys):
    admin_client(stmarys).post("/treatments/", {"name": "Dressing", "code": "DR", "duration_minutes": "15"})
    with schema_context(stmarys.schema):
        treatment_id = Treatment.objects.get(code="DR").pk

    for role in (Role.DOCTOR, Role.RECEPTIONIST, Role.PATIENT):
        assert stmarys.client(stmarys.user(role)).get(f"/treatments/{treatment_id}/edit/").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(stmarys):
    response = stmarys.client().get("/audit/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
