"""Tasks run in the branch that sent them, refuse public, and fan out over ready branches."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.tasks import purge_expired_tokens
from tests.factories import HalfMadeHospitalFactory
from workers.base import WrongSchemaError
from workers.tasks import branches_fan_out


def test_a_branch_task_refuses_to_run_in_public(db):
    with schema_context("public"), pytest.raises(WrongSchemaError):
        purge_expired_tokens()


def test_a_branch_task_refuses_a_branch_that_was_removed(db):
    # a worker's cached row of a branch removed since: its schema is gone
    with schema_context("removed_branch"), pytest.raises(WrongSchemaError, match="does not exist"):
        purge_expired_tokens()


def test_a_branch_task_runs_in_a_branch(stmarys):
    with schema_context(stmarys.schema):
        assert purge_expired_tokens() == 0


def test_fan_out_sends_one_staggered_task_to_each_ready_branch(stmarys, spare_redis):
    # given a branch still being made (branches are made from public; a request before may have
    # left the connection in a branch)
    with schema_context("public"):
        HalfMadeHospitalFactory()

    sent = branches_fan_out("accounts.purge_expired_tokens", spread_seconds=60, celery_app=spare_redis.celery_app())

    queued = spare_redis.queued()
    assert sent == 2
    assert sorted(q["headers"]["_schema_name"] for q in queued) == ["riverside", "stmarys"]
    etas = sorted(q["headers"]["eta"] or "" for q in queued)
    assert etas[0] != etas[1], "the branches should not all be sent the task for the same moment"
