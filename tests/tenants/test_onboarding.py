"""Onboarding a branch: the command, the platform API and the admin all reach one service."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from accounts.models import Role, User
from accounts.tokens import tokens_issue
from core.db import advisory_lock_held
from core.errors import DomainError
from tenants import services
from tenants.models import Domain, Hospital
from tenants.services import branch_remove, branches_reap, hospital_onboard
from tests.factories import HalfMadeHospitalFactory
from workers.models import OutboxMessage

VALID = {
    "group": "North Group",
    "name": "Northside Hospital",
    "slug": "northside",
    "country": "GB",
    "time_zone": "Europe/London",
    "admin_email": "head@northside.test",
}


def _platform_state() -> tuple:
    with schema_context("public"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT nspname FROM pg_namespace ORDER BY 1")
            schemas = [row[0] for row in cursor.fetchall()]
        return (
            sorted(Hospital.objects.values_list("slug", flat=True)),
            sorted(Domain.objects.values_list("domain", flat=True)),
            schemas,
        )


def _platform_admin() -> tuple[Client, User]:
    """A platform operator signed in to the platform's admin (public host)."""
    with schema_context("public"):
        operator = User.objects.create_superuser(username="root-op", password="x", email="op@platform.test")
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator, backend="accounts.backends.UsernameOrEmailBackend")
    return client, operator


@pytest.fixture
def operator_api(db) -> Client:
    with schema_context("public"):
        operator = User.objects.create_user(username="op", password="x", is_staff=True)
        token = tokens_issue(user=operator).access
    return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def onboarded(committed):
    made = []

    def onboard(**overrides):
        spec = {**VALID, **overrides}
        result = hospital_onboard(group_name=spec.pop("group"), **spec)
        made.append(result.hospital)
        return result

    committed.cleanup(lambda: [branch_remove(h) for h in made])
    return onboard


def test_onboarding_makes_a_ready_branch_with_its_roles_and_first_admin(onboarded):
    result = onboarded()

    hospital = result.hospital
    assert hospital.ready
    assert Hospital.objects.get(pk=hospital.pk).ready
    assert hospital.get_primary_domain().domain == "northside.localhost"
    assert result.schema_method == "clone"
    with schema_context(hospital.schema_name):
        assert set(Group.objects.values_list("name", flat=True)) == set(Role.values)
        admin = User.objects.get(email="head@northside.test")
        assert admin.role == Role.HOSPITAL_ADMIN
        assert not admin.has_usable_password()
    invite = OutboxMessage.objects.get(schema_name=hospital.schema_name, task_name="accounts.send_invite")
    assert invite.kwargs == {"user_id": admin.pk}
    assert result.set_password_link.startswith("http://northside.localhost:8000/accounts/set-password/")


def test_the_admins_link_sets_a_password_once(onboarded):
    result = onboarded()
    client = Client(HTTP_HOST="northside.localhost")
    path = result.set_password_link.split(":8000", 1)[1]

    page = client.get(path)
    assert page.status_code == 200
    response = client.post(path, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})
    assert response.status_code == 302

    assert client.get("/").status_code == 200  # signed in
    assert Client(HTTP_HOST="northside.localhost").get(path).status_code == 400  # used up


def test_two_onboardings_at_once_both_succeed(onboarded):
    errors = []

    def run(slug):
        try:
            onboarded(slug=slug, admin_email=f"head@{slug}.test")
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(slug,)) for slug in ("east-wing", "west-wing")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    for slug in ("east_wing", "west_wing"):
        hospital = Hospital.objects.get(schema_name=slug)
        assert hospital.ready
        with schema_context(slug):
            assert User.objects.filter(role=Role.HOSPITAL_ADMIN).count() == 1


def test_two_onboardings_of_one_slug_at_once_make_one_branch(onboarded):
    outcomes = []

    def run(n):
        try:
            onboarded(admin_email=f"head{n}@northside.test")
            outcomes.append("made")
        except DomainError as exc:
            outcomes.append(exc.kind)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["conflict", "made"]
    assert Hospital.objects.filter(slug="northside", ready=True).count() == 1


@pytest.mark.parametrize("step", ["roles_ensure", "set_password_link"])
def test_a_failure_midway_leaves_nothing_behind(committed, monkeypatch, step):
    # set_password_link fails after the admin and the invitation were written and committed
    before = _platform_state()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, step, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        hospital_onboard(group_name="G", **{k: v for k, v in VALID.items() if k != "group"})

    assert _platform_state() == before
    assert not schema_exists("northside")
    assert not OutboxMessage.objects.filter(schema_name="northside", sent_at__isnull=True).exists()


def test_the_reaper_removes_branches_left_half_made(committed):
    # given a branch a crash left not ready, its schema made
    from datetime import timedelta

    from django.utils import timezone

    hospital = HalfMadeHospitalFactory(slug="crashed")
    committed.cleanup(hospital.group.delete)
    Hospital.objects.filter(pk=hospital.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA crashed")

    # when the reaper runs
    call_command("reap_branches", "--minutes", "10")

    # then the branch is gone, the ready ones stay
    assert not Hospital.objects.filter(slug="crashed").exists()
    assert not Domain.objects.filter(domain="crashed.localhost").exists()
    assert not schema_exists("crashed")
    assert Hospital.objects.filter(slug="stmarys", ready=True).exists()
    assert branches_reap() == []


def test_a_branch_being_made_answers_404(committed):

    hospital = HalfMadeHospitalFactory(slug="halfway")
    committed.cleanup(hospital.group.delete)
    committed.cleanup(lambda: branch_remove(hospital))

    assert Client(HTTP_HOST="halfway.localhost").get("/api/openapi.json").status_code == 404


def test_the_command_prints_the_host_and_the_admins_link(committed, capsys):
    committed.cleanup(lambda: branch_remove(Hospital.objects.get(slug="cmdline")))

    call_command(
        "onboard_branch",
        "--group",
        "G",
        "--name",
        "Command Line",
        "--slug",
        "cmdline",
        "--country",
        "IN",
        "--time-zone",
        "Asia/Kolkata",
        "--admin-email",
        "boss@cmdline.test",
    )

    out = capsys.readouterr().out
    assert "cmdline.localhost" in out
    assert "http://cmdline.localhost:8000/accounts/set-password/" in out


def test_the_command_refuses_bad_input_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="country"):
        call_command(
            "onboard_branch",
            "--group",
            "G",
            "--name",
            "X",
            "--slug",
            "okslug",
            "--country",
            "XX",
            "--admin-email",
            "a@b.test",
        )


def test_platform_api_onboards_a_branch(operator_api):
    response = operator_api.post(
        "/api/platform/hospitals/", {**VALID, "slug": "apiside"}, content_type="application/json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == "apiside.localhost"
    assert body["ready"] is True
    assert body["admin_set_password_link"].startswith("http://apiside.localhost:8000/")
    listed = operator_api.get("/api/platform/hospitals/").json()
    assert {"stmarys", "riverside", "apiside"} <= {h["slug"] for h in listed}


def test_an_existing_schema_is_never_overwritten(db):
    # given a schema with data of its own and no branch row
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA orphan")
        cursor.execute("CREATE TABLE orphan.keep (note text)")
        cursor.execute("INSERT INTO orphan.keep VALUES ('precious')")

    with pytest.raises(DomainError) as refused:
        hospital_onboard(group_name="G", **{**{k: v for k, v in VALID.items() if k != "group"}, "slug": "orphan"})

    assert refused.value.kind == "conflict"
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM orphan.keep")
        assert cursor.fetchall() == [("precious",)]


def test_a_schema_made_by_someone_else_midway_is_left_alone(db, monkeypatch):
    # given someone creates the schema after the claim, before this onboarding makes it
    real_lock = services.advisory_lock_held

    @contextmanager
    def lock_then_interfere(*key):
        with real_lock(*key):
            with connection.cursor() as cursor:
                cursor.execute("CREATE SCHEMA latecomer")
                cursor.execute("CREATE TABLE latecomer.keep (note text)")
            yield

    monkeypatch.setattr(services, "advisory_lock_held", lock_then_interfere)

    with pytest.raises(DomainError) as refused:
        hospital_onboard(group_name="G", **{**{k: v for k, v in VALID.items() if k != "group"}, "slug": "latecomer"})

    assert refused.value.kind == "conflict"
    assert schema_exists("latecomer")
    assert not Hospital.objects.filter(slug="latecomer").exists()


def test_the_platform_admin_refuses_a_mistyped_time_zone_on_change(db):
    client, _operator = _platform_admin()
    hospital = Hospital.objects.get(slug="stmarys")

    response = client.post(
        f"/admin/tenants/hospital/{hospital.pk}/change/",
        {
            "name": hospital.name,
            "group": hospital.group_id,
            "country": "GB",
            "time_zone": "Europe/Atlantis",
            "languages": "en",
            "mrn_prefix": "SM",
            "domains-TOTAL_FORMS": "0",
            "domains-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Unknown time zone" in response.content.decode()
    hospital.refresh_from_db()
    assert hospital.time_zone == "Europe/London"


def test_the_reaper_leaves_an_onboarding_in_progress_alone(committed):
    from datetime import timedelta

    from django.utils import timezone

    hospital = HalfMadeHospitalFactory(slug="slowpoke")
    committed.cleanup(hospital.group.delete)
    committed.cleanup(lambda: branch_remove(hospital))
    Hospital.objects.filter(pk=hospital.pk).update(created_at=timezone.now() - timedelta(hours=1))
    reaped = []
    with advisory_lock_held(services._ONBOARDING_LOCK_CLASS, hospital.pk):  # as hospital_onboard holds it
        reaped.extend(branches_reap())

    assert "slowpoke" not in reaped
    assert Hospital.objects.filter(slug="slowpoke").exists()


BAD_INPUT = [
    ({"slug": "Bad_Slug"}, 422, "slug"),
    ({"slug": "-dash"}, 422, "slug"),
    ({"slug": "x" * 41}, 422, "slug"),
    ({"slug": "public"}, 422, "slug"),
    ({"slug": "www"}, 422, "slug"),
    ({"slug": "api"}, 422, "slug"),
    ({"slug": "extensions"}, 422, "slug"),
    ({"slug": "branch-template"}, 422, "slug"),
    ({"slug": "platform"}, 422, "slug"),
    ({"slug": "stmarys"}, 409, "slug"),
    ({"country": "ZZ"}, 422, "country"),
    ({"time_zone": "Mars/Olympus"}, 422, "time_zone"),
    ({"admin_email": "not-an-email"}, 422, "admin_email"),
    ({"languages": ["xx"]}, 422, "languages"),
    ({"name": "  "}, 422, "name"),
    ({"name": "n" * 201}, 422, "name"),
    ({"name": "St\x00Mary"}, 422, "name"),
    ({"admin_email": "a" * 140 + "@northside.test"}, 422, "admin_email"),
    ({"contact_email": "reception at northside"}, 422, "contact_email"),
    ({"contact_phone": "0" * 40}, 422, "contact_phone"),
    ({"mrn_prefix": "ab-1"}, 422, "mrn_prefix"),
]


@pytest.mark.parametrize(("change", "status", "field"), BAD_INPUT)
def test_platform_api_refuses_bad_input_and_creates_nothing(operator_api, change, status, field):
    before = _platform_state()

    response = operator_api.post("/api/platform/hospitals/", {**VALID, **change}, content_type="application/json")

    assert response.status_code == status
    body = response.json()
    if status == 422:
        assert body["detail"][0]["loc"][-1] == field
    else:
        assert body["field"] == field
    assert _platform_state() == before


def test_the_operators_host_under_the_branches_domain_is_no_branch_name(operator_api, settings):
    """With the operators at operators.<domain>, a branch "operators" could never be reached."""
    settings.PUBLIC_HOST = f"operators.{settings.BASE_DOMAIN}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, settings.PUBLIC_HOST]
    before = _platform_state()

    response = operator_api.post(
        "/api/platform/hospitals/",
        {**VALID, "slug": "operators"},
        content_type="application/json",
        HTTP_HOST=settings.PUBLIC_HOST,
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "slug"
    assert _platform_state() == before


def test_a_taken_host_name_is_a_conflict(operator_api):
    with schema_context("public"):
        Domain.objects.create(domain="taken.localhost", tenant=Hospital.objects.get(slug="stmarys"), is_primary=False)

    response = operator_api.post(
        "/api/platform/hospitals/", {**VALID, "slug": "taken"}, content_type="application/json"
    )

    assert response.status_code == 409


@pytest.mark.parametrize("who", ["anonymous", "branch_admin_token", "public_non_operator"])
def test_platform_api_is_for_platform_operators_only(stmarys, who):
    client = Client(HTTP_HOST="localhost")
    if who == "branch_admin_token":
        client = Client(
            HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {stmarys.token(stmarys.user(Role.HOSPITAL_ADMIN))}"
        )
    elif who == "public_non_operator":
        with schema_context("public"):
            user = User.objects.create_user(username="visitor", password="x")
            client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=user).access}")
    before = _platform_state()

    response = client.post("/api/platform/hospitals/", {**VALID, "slug": "sneaky"}, content_type="application/json")

    assert response.status_code == 401
    assert _platform_state() == before


def test_platform_admin_onboards_through_the_same_service(committed):
    from tenants.models import HospitalGroup

    client, operator = _platform_admin()
    committed.cleanup(operator.delete)
    committed.cleanup(lambda: branch_remove(Hospital.objects.get(slug="adminside")))
    group = HospitalGroup.objects.get_or_create(name="Test Group")[0]

    response = client.post(
        "/admin/tenants/hospital/add/",
        {
            "group": group.pk,
            "name": "Admin Side",
            "slug": "adminside",
            "country": "GB",
            "time_zone": "Europe/London",
            "languages": "en",
            "mrn_prefix": "AS",
            "admin_email": "boss@adminside.test",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    hospital = Hospital.objects.get(slug="adminside")
    assert hospital.ready
    with schema_context("adminside"):
        assert User.objects.get(email="boss@adminside.test").role == Role.HOSPITAL_ADMIN


def test_platform_admin_shows_bad_input_next_to_the_field(db):
    from tenants.models import HospitalGroup

    client, _operator = _platform_admin()
    group = HospitalGroup.objects.get_or_create(name="Test Group")[0]
    before = _platform_state()

    response = client.post(
        "/admin/tenants/hospital/add/",
        {
            "group": group.pk,
            "name": "Bad",
            "slug": "public",
            "country": "GB",
            "time_zone": "Europe/London",
            "languages": "en",
            "mrn_prefix": "AS",
            "admin_email": "boss@bad.test",
        },
    )

    assert response.status_code == 200
    assert "That name is reserved" in response.content.decode()
    assert _platform_state() == before


def test_a_deployment_limited_to_some_countries_onboards_no_branch_elsewhere(operator_api, settings):
    settings.ALLOWED_COUNTRIES = ["GB", "IE"]
    before = _platform_state()

    elsewhere = operator_api.post(
        "/api/platform/hospitals/", {**VALID, "slug": "mumbai", "country": "IN"}, content_type="application/json"
    )

    assert elsewhere.status_code == 422
    [error] = elsewhere.json()["detail"]
    assert (error["loc"][-1], error["type"]) == ("country", "country_not_allowed")
    assert "GB, IE" in error["msg"]
    assert _platform_state() == before
