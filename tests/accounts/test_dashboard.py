"""The staff dashboard: sign-in, role-aware navigation, staff management, idle sessions, languages."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, SecurityEvent, User
from tests.conftest import PASSWORD, email_of
from workers.models import OutboxMessage


def _nav(response) -> str:
    html = response.content.decode()
    return html[html.index('id="main-nav"') : html.index("</ul>", html.index('id="main-nav"'))]


def test_sign_in_with_the_e_mail_in_other_capitals(stmarys):
    response = Client(HTTP_HOST=stmarys.host).post(
        "/accounts/login/", {"username": "Doctor@STMARYS.test", "password": PASSWORD}
    )

    assert response.status_code == 302


def test_sign_in_lands_on_home_with_the_roles_navigation(stmarys):
    client = Client(HTTP_HOST=stmarys.host, REMOTE_ADDR="10.9.9.9")

    response = client.post(
        "/accounts/login/", {"username": email_of(Role.HOSPITAL_ADMIN, "stmarys"), "password": PASSWORD}, follow=True
    )

    assert response.status_code == 200
    assert "Staff" in _nav(response)
    assert "Security log" in _nav(response)
    with schema_context(stmarys.schema):
        event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOGIN)
        assert event.address == "10.9.9.9"


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.RECEPTIONIST])
def test_doctors_and_receptionists_do_not_see_staff_management(stmarys, role):
    client = stmarys.client(stmarys.user(role))

    assert "Staff" not in _nav(client.get("/"))
    assert client.get("/staff/").status_code == 403
    assert client.get("/security-log/").status_code == 403


def test_patients_cannot_sign_in_to_the_staff_dashboard(stmarys):
    response = Client(HTTP_HOST=stmarys.host).post(
        "/accounts/login/", {"username": email_of(Role.PATIENT, "stmarys"), "password": PASSWORD}
    )

    assert response.status_code == 200
    assert "This sign-in is for hospital staff" in response.content.decode()
    assert stmarys.client(stmarys.user(Role.PATIENT)).get("/").status_code == 403


def test_a_user_of_one_branch_cannot_sign_in_on_another(riverside):
    client = Client(HTTP_HOST=riverside.host)

    response = client.post("/accounts/login/", {"username": email_of(Role.DOCTOR, "stmarys"), "password": PASSWORD})

    assert response.status_code == 200
    assert client.get("/").status_code == 302  # still signed out


def test_a_session_of_one_branch_means_nothing_on_another(stmarys, riverside):
    stmarys_client = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))
    cookie = stmarys_client.cookies["hospital_session"].value
    riverside_client = Client(HTTP_HOST=riverside.host)
    riverside_client.cookies["hospital_session"] = cookie

    assert riverside_client.get("/").status_code == 302


def test_anonymous_is_sent_to_sign_in(stmarys):
    response = Client(HTTP_HOST=stmarys.host).get("/staff/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_admin_invites_a_colleague(stmarys):
    admin = stmarys.user(Role.HOSPITAL_ADMIN)
    client = stmarys.client(admin)

    response = client.post(
        "/staff/", {"email": "new.doctor@stmarys.test", "full_name": "Dr New", "role": Role.DOCTOR}, follow=True
    )

    assert response.status_code == 200
    assert "Invitation sent to new.doctor@stmarys.test" in response.content.decode()
    with schema_context(stmarys.schema):
        invited = User.objects.get(email="new.doctor@stmarys.test")
        assert invited.role == Role.DOCTOR
        assert not invited.has_usable_password()
        assert OutboxMessage.objects.filter(task_name="accounts.send_invite", kwargs={"user_id": invited.pk}).exists()
        assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.INVITED, user=invited, actor=admin).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "role": Role.DOCTOR}, "Enter a valid email address."),
        ({"email": email_of(Role.DOCTOR, "stmarys"), "role": Role.DOCTOR}, "already has that e-mail address"),
        ({"email": "x@stmarys.test", "role": Role.PATIENT}, "Select a valid choice"),
    ],
)
def test_a_bad_invite_says_why_and_changes_nothing(stmarys, data, message):
    client = stmarys.client(stmarys.user(Role.HOSPITAL_ADMIN))
    with schema_context(stmarys.schema):
        before = User.objects.count()

    response = client.post("/staff/", data)

    assert response.status_code == 422
    assert message in response.content.decode()
    with schema_context(stmarys.schema):
        assert User.objects.count() == before


def test_admin_changes_a_role_and_it_is_recorded(stmarys):
    admin = stmarys.user(Role.HOSPITAL_ADMIN)
    doctor = stmarys.user(Role.DOCTOR)

    stmarys.client(admin).post(f"/staff/{doctor.pk}/role/", {"role": Role.RECEPTIONIST})

    with schema_context(stmarys.schema):
        doctor.refresh_from_db()
        assert doctor.role == Role.RECEPTIONIST
        event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.ROLE_CHANGED)
        assert event.detail == {"old_role": "doctor", "new_role": "receptionist"}
        assert event.actor == admin
    assert "receptionist" in stmarys.client(admin).get("/security-log/").content.decode()


def test_the_last_admin_cannot_be_demoted(stmarys):
    admin = stmarys.user(Role.HOSPITAL_ADMIN)

    response = stmarys.client(admin).post(f"/staff/{admin.pk}/role/", {"role": Role.DOCTOR}, follow=True)

    assert "at least one active hospital admin" in response.content.decode()
    with schema_context(stmarys.schema):
        admin.refresh_from_db()
        assert admin.role == Role.HOSPITAL_ADMIN


def test_deactivation_ends_the_colleagues_session_at_once(stmarys):
    admin = stmarys.user(Role.HOSPITAL_ADMIN)
    doctor = stmarys.user(Role.DOCTOR)
    doctors_browser = stmarys.client(doctor)
    assert doctors_browser.get("/").status_code == 200

    stmarys.client(admin).post(f"/staff/{doctor.pk}/active/", {"active": "0"})

    assert doctors_browser.get("/").status_code == 302
    assert (
        Client(HTTP_HOST=stmarys.host)
        .post("/accounts/login/", {"username": doctor.email, "password": PASSWORD})
        .status_code
        == 200
    )  # form again
    with schema_context(stmarys.schema):
        assert SecurityEvent.objects.filter(kind=SecurityEvent.Kind.DEACTIVATED, user=doctor, actor=admin).exists()


def test_an_id_names_a_person_of_the_branch_it_is_used_in(stmarys, riverside):
    # ids repeat across branches: riverside's admin using the id of stmarys' doctor reaches
    # riverside's own doctor, never stmarys'
    admin = riverside.user(Role.HOSPITAL_ADMIN)
    stmarys_doctor = stmarys.user(Role.DOCTOR)
    assert riverside.user(Role.DOCTOR).pk == stmarys_doctor.pk

    response = riverside.client(admin).post(f"/staff/{stmarys_doctor.pk}/active/", {"active": "0"})

    assert response.status_code == 302
    with schema_context(stmarys.schema):
        assert User.objects.get(pk=stmarys_doctor.pk).is_active
    with schema_context(riverside.schema):
        assert not User.objects.get(pk=stmarys_doctor.pk).is_active


def test_a_patients_password_link_does_not_open_the_dashboard(stmarys):
    from django.db import connection

    from accounts.links import set_password_link

    patient = stmarys.user(Role.PATIENT)
    with schema_context(stmarys.schema):
        connection.set_tenant(stmarys.hospital)
        path = set_password_link(patient).split(":8000", 1)[1]
    client = Client(HTTP_HOST=stmarys.host)

    response = client.post(path, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})

    assert response.status_code == 200
    assert "Sign in with it in the patient app" in response.content.decode()
    assert client.get("/").status_code == 302


def _idle_for(branch, *, minutes: int) -> Client:
    """A receptionist's browser whose last activity was ``minutes`` ago."""
    client = branch.client(branch.user(Role.RECEPTIONIST))
    client.get("/")
    session = client.session
    session["last_activity"] = time.time() - minutes * 60
    session.save()
    return client


def test_idle_session_ends_and_says_why(stmarys, settings):
    settings.SESSION_IDLE_MINUTES = 15
    client = _idle_for(stmarys, minutes=16)

    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "signed out after 15 minutes without activity" in response.content.decode()


def test_background_polling_does_not_keep_a_session_alive(stmarys):
    client = _idle_for(stmarys, minutes=10)

    client.get("/", HTTP_X_BACKGROUND="1")

    assert client.session["last_activity"] < time.time() - 9 * 60
    client.get("/")
    assert client.session["last_activity"] > time.time() - 60


def test_the_page_carries_the_idle_warning(stmarys):
    html = stmarys.client(stmarys.user(Role.DOCTOR)).get("/").content.decode()

    assert 'id="idle-warning"' in html
    assert "secondsLeft: 900" in html or "secondsLeft: 899" in html


def test_arabic_turns_the_layout_right_to_left(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    with schema_context(stmarys.schema):
        doctor.preferred_language = "ar"
        doctor.save()

    html = stmarys.client(doctor).get("/").content.decode()

    assert '<html lang="ar" dir="rtl">' in html
    assert "bootstrap.rtl.min.css" in html
    assert "تسجيل الخروج" in html  # "Sign out", from the Arabic catalogue


def test_a_branch_default_language_applies_before_sign_in(riverside):
    from tenants.models import Hospital

    with schema_context("public"):
        Hospital.objects.filter(pk=riverside.hospital.pk).update(languages=["hi", "en"])

    html = Client(HTTP_HOST=riverside.host).get("/accounts/login/").content.decode()

    assert '<html lang="hi" dir="ltr">' in html


def test_the_user_chooses_a_language(stmarys):
    doctor = stmarys.user(Role.DOCTOR)
    client = stmarys.client(doctor)

    client.post("/accounts/me/", {"language": "ar"})

    assert 'dir="rtl"' in client.get("/").content.decode()


def test_the_security_log_shows_the_branchs_local_time(riverside):
    from datetime import UTC, datetime

    admin = riverside.user(Role.HOSPITAL_ADMIN)
    with schema_context(riverside.schema):
        event = SecurityEvent.objects.create(kind=SecurityEvent.Kind.LOGIN, username="someone")
        SecurityEvent.objects.filter(pk=event.pk).update(at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC))

    html = riverside.client(admin).get("/security-log/").content.decode()

    assert "2026-01-05 17:30:00" in html  # Asia/Kolkata is UTC+05:30
    assert "times in Asia/Kolkata" in html


def test_asking_how_long_the_session_has_left_renews_nothing(stmarys):
    client = _idle_for(stmarys, minutes=10)

    answer = client.get("/accounts/session/", HTTP_X_BACKGROUND="1")

    assert 290 <= answer.json()["seconds_left"] <= 300
    assert client.session["last_activity"] < time.time() - 9 * 60


def test_an_expired_session_answers_the_status_check_with_401(stmarys):
    client = _idle_for(stmarys, minutes=16)

    assert client.get("/accounts/session/", HTTP_X_BACKGROUND="1").status_code == 401


def test_a_nul_in_the_dashboard_username_is_refused_politely(stmarys):
    response = Client(HTTP_HOST=stmarys.host).post("/accounts/login/", {"username": "doc\x00tor", "password": "x"})

    assert response.status_code == 200
    assert "Staff sign-in" in response.content.decode()


def test_a_demoted_admin_can_no_longer_change_roles(stmarys):
    from accounts.services import staff_change_role
    from core.errors import DomainError

    doctor = stmarys.user(Role.DOCTOR)
    with schema_context(stmarys.schema):
        second_admin = User.objects.create_user(username="admin2", role=Role.HOSPITAL_ADMIN, password=PASSWORD)
        staff_change_role(user=second_admin, role=Role.RECEPTIONIST, changed_by=stmarys.user(Role.HOSPITAL_ADMIN))
        with pytest.raises(DomainError) as refused:
            staff_change_role(user=doctor, role=Role.RECEPTIONIST, changed_by=second_admin)

    assert refused.value.kind == "forbidden"


def test_a_mistyped_branch_time_zone_does_not_take_the_branch_down(stmarys):
    from tenants.models import Hospital

    with schema_context("public"):
        Hospital.objects.filter(pk=stmarys.hospital.pk).update(time_zone="Europe/Atlantis")

    assert stmarys.client(stmarys.user(Role.DOCTOR)).get("/").status_code == 200
