"""End to end with a real Celery worker: e-mails sent through the outbox arrive, from the right branch."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import staff_invite
from tests.conftest import WORKER_APPLICATION_NAME
from workers.celery import app
from workers.models import OutboxMessage

pytestmark = pytest.mark.worker


def _link(mail: str) -> str:
    return re.search(r"http://\S+/accounts/set-password/\S+/", mail).group(0)


def test_password_reset_mail_arrives_and_its_link_sets_a_new_password(committed, celery_worker):
    riverside = committed.branch("riverside")
    with schema_context(riverside.schema):
        user = User.objects.create_user(
            username="reset.me", email="reset.me@riverside.test", password="old-long-passphrase", role=Role.RECEPTIONIST
        )
    committed.cleanup(lambda: _delete(riverside, user))

    response = Client(HTTP_HOST=riverside.host).post("/accounts/password-reset/", {"email": "reset.me@riverside.test"})
    assert response.status_code == 200
    assert "a link to set a new password is on its way" in response.content.decode()

    mail = celery_worker.wait_for_mail("To: reset.me@riverside.test")
    link = _link(mail)
    assert link.startswith("http://riverside.localhost:8000/accounts/set-password/")
    assert "Riverside Clinic" in mail

    client = Client(HTTP_HOST=riverside.host)
    path = link.split(":8000", 1)[1]
    new = "a-brand-new-passphrase"
    assert client.post(path, {"new_password1": new, "new_password2": new}).status_code == 302
    signed_in = Client(HTTP_HOST=riverside.host).post("/accounts/login/", {"username": "reset.me", "password": new})
    assert signed_in.status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_mail(committed):
    riverside = committed.branch("riverside")
    queued_before = OutboxMessage.objects.count()

    response = Client(HTTP_HOST=riverside.host).post("/accounts/password-reset/", {"email": "nobody@riverside.test"})

    assert response.status_code == 200
    assert "a link to set a new password is on its way" in response.content.decode()
    assert OutboxMessage.objects.count() == queued_before


def test_invite_mail_goes_through_the_worker(committed, celery_worker):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        invited = staff_invite(email="invited.nurse@stmarys.test", role=Role.RECEPTIONIST, invited_by=None)
    committed.cleanup(lambda: _delete(stmarys, invited))

    mail = celery_worker.wait_for_mail("To: invited.nurse@stmarys.test")

    assert _link(mail).startswith("http://stmarys.localhost:8000/accounts/set-password/")
    assert "St Mary's Hospital" in mail


def test_a_task_sent_without_a_branch_does_not_run_in_public(committed, celery_worker):
    # given a user of the public schema, with an e-mail address
    operator = User.objects.create_user(username="public-op", email="public-op@platform.test", password="x")
    committed.cleanup(operator.delete)
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        control = User.objects.create_user(username="control", email="control@stmarys.test", role=Role.DOCTOR)
    committed.cleanup(lambda: _delete(stmarys, control))

    # when the same task is sent from public, then from a branch
    with schema_context("public"):
        app.send_task("accounts.send_password_reset", kwargs={"user_id": operator.pk})
    with schema_context(stmarys.schema):
        app.send_task("accounts.send_password_reset", kwargs={"user_id": control.pk})

    # then only the branch's ran (one worker process, first in first out)
    celery_worker.wait_for_mail("To: control@stmarys.test")
    assert not any("public-op@platform.test" in mail for mail in celery_worker.mails())


def _delete(branch, user) -> None:
    with schema_context(branch.schema):
        User.objects.filter(pk=user.pk).delete()


def test_a_worker_whose_database_connection_was_cut_between_tasks_carries_on(committed, celery_worker):
    stmarys = committed.branch("stmarys")
    with schema_context(stmarys.schema):
        first = staff_invite(email="before.cut@stmarys.test", role=Role.RECEPTIONIST, invited_by=None)
    committed.cleanup(lambda: _delete(stmarys, first))
    celery_worker.wait_for_mail("To: before.cut@stmarys.test")

    # PostgreSQL ends the worker's kept connection (a restart, a failover, an idle timeout)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            [WORKER_APPLICATION_NAME],
        )
        assert cursor.fetchone()[0] >= 1
    with schema_context(stmarys.schema):
        second = staff_invite(email="after.cut@stmarys.test", role=Role.RECEPTIONIST, invited_by=None)
    committed.cleanup(lambda: _delete(stmarys, second))

    # the next task checks its connection first, and its mail arrives at once (not after retries)
    mail = celery_worker.wait_for_mail("To: after.cut@stmarys.test", timeout=4)
    assert "St Mary's Hospital" in mail
