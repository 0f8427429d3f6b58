from __future__ import annotations

import logging
from smtplib import SMTPConnectError, SMTPResponseException, SMTPServerDisconnected

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.utils import translation

from accounts.links import set_password_link
from accounts.models import User
from accounts.tokens import tokens_purge_expired
from workers.celery import app

logger = logging.getLogger(__name__)


class MailServerBusy(Exception):
    """A temporary (4xx) refusal: worth another try later."""


def _language_for(user: User) -> str:
    return user.preferred_language or getattr(connection.tenant, "default_language", settings.LANGUAGE_CODE)


def _send_link_mail(user_id: int, template: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        logger.info("no active user %s to e-mail; nothing sent", user_id)
        return
    with translation.override(_language_for(user)):
        context = {"user": user, "link": set_password_link(user), "branch": connection.tenant.name}
        subject = render_to_string(f"email/{template}_subject.txt", context).strip()
        body = render_to_string(f"email/{template}.txt", context)
    mail_send(subject, body, user.email)


def mail_send(subject: str, body: str, recipient: str) -> None:
    """Send one e-mail; a temporary refusal becomes :class:`MailServerBusy`, retried by the task."""
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise MailServerBusy(str(exc)) from exc
        raise


# A mail server that is down or busy now will be up later: retry for hours rather than lose the
# mail. A permanent refusal (5xx, e.g. an unknown recipient) is not retried.
MAIL_RETRY = {
    "autoretry_for": (OSError, SMTPServerDisconnected, SMTPConnectError, MailServerBusy),
    "retry_backoff": 30,
    "retry_backoff_max": 30 * 60,
    "max_retries": 12,
}


@app.task(name="accounts.send_invite", **MAIL_RETRY)
def send_invite(user_id: int) -> None:
    _send_link_mail(user_id, "invite")


@app.task(name="accounts.send_password_reset", **MAIL_RETRY)
def send_password_reset(user_id: int) -> None:
    _send_link_mail(user_id, "password_reset")


@app.task(name="accounts.purge_expired_tokens")
def purge_expired_tokens() -> int:
    return tokens_purge_expired()


@app.task(name="accounts.purge_expired_sessions")
def purge_expired_sessions() -> None:
    SessionStore.clear_expired()
