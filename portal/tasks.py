"""Portal tasks: sending an invitation's one-time link."""

from __future__ import annotations

from accounts.tasks import MAIL_RETRY
from portal.services import INVITE_TASK, portal_invite_send
from workers.base import BranchTask
from workers.celery import app


@app.task(base=BranchTask, name=INVITE_TASK, **MAIL_RETRY)
def send_invite(invite_id: int) -> bool:
    return portal_invite_send(invite_id)
