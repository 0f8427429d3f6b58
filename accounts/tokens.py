"""API tokens: opaque, stored hashed in the issuing branch's schema.

A token reads ``<schema>.<secret>``. It is accepted only on the host of the branch whose schema
it names, and only if that branch's own table has its hash: user ids repeat across schemas, so
this is what keeps one branch's token out of another.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import ApiToken, User
from core.db import current_schema


@dataclass(frozen=True)
class IssuedTokens:
    access: str
    refresh: str
    expires_in: int
    user: User


def token_digest(token: str) -> str:
    """What is stored of a secret handed out (API tokens, portal invitation links)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(*, user: User, kind: str, family: uuid.UUID, lifetime: timedelta) -> str:
    text = f"{current_schema()}.{secrets.token_urlsafe(32)}"
    ApiToken.objects.create(
        key_hash=token_digest(text), user=user, kind=kind, family=family, expires_at=timezone.now() + lifetime
    )
    return text


def tokens_issue(*, user: User, family: uuid.UUID | None = None) -> IssuedTokens:
    family = family or uuid.uuid4()
    access_lifetime = timedelta(minutes=settings.API_ACCESS_TOKEN_MINUTES)
    return IssuedTokens(
        access=_new_token(user=user, kind=ApiToken.Kind.ACCESS, family=family, lifetime=access_lifetime),
        refresh=_new_token(
            user=user,
            kind=ApiToken.Kind.REFRESH,
            family=family,
            lifetime=timedelta(days=settings.API_REFRESH_TOKEN_DAYS),
        ),
        expires_in=int(access_lifetime.total_seconds()),
        user=user,
    )


def token_lookup(text: str, *, kind: str) -> ApiToken | None:
    """The live token row for ``text`` in this branch, or None."""
    schema, _, secret = text.partition(".")
    if not secret or schema != current_schema():
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_digest(text), kind=kind, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def tokens_refresh(*, refresh: str) -> IssuedTokens | None:
    """Rotate: the old refresh token is spent, a new pair of the same family is issued."""
    token = token_lookup(refresh, kind=ApiToken.Kind.REFRESH)
    if token is None:
        return None
    deleted, _ = ApiToken.objects.filter(pk=token.pk).delete()
    if not deleted:  # spent by a concurrent refresh
        return None
    return tokens_issue(user=token.user, family=token.family)


def tokens_revoke_family(*, token: ApiToken) -> None:
    ApiToken.objects.filter(family=token.family).delete()


def tokens_revoke_all(*, user: User) -> int:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def tokens_purge_expired() -> int:
    deleted, _ = ApiToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
