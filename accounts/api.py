from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from ninja import Router, Status

from accounts.audit import security_event_record
from accounts.backends import normalise_username
from accounts.models import SecurityEvent
from accounts.permissions import BranchTokenAuth
from accounts.schemas import MeOut, RefreshIn, TokenIn, TokenOut
from accounts.tokens import IssuedTokens, tokens_issue, tokens_refresh, tokens_revoke_family
from core.api import ErrorOut, ValidationErrorOut
from core.errors import DomainError


def _unauthorised(message: str) -> DomainError:
    return DomainError(message, kind="unauthorised", code="unauthorised")


def _token_out(issued: IssuedTokens) -> TokenOut:
    return TokenOut(access=issued.access, refresh=issued.refresh, expires_in=issued.expires_in, role=issued.user.role)


def token_obtain(request, payload: TokenIn):
    # request= lets django-axes count failures for this (username, address) pair.
    username = normalise_username(payload.username)
    user = authenticate(request=request, username=username, password=payload.password)
    if user is None:
        if not getattr(request, "axes_locked_out", False):
            security_event_record(kind=SecurityEvent.Kind.LOGIN_FAILED, request=request, username=username, via="api")
        raise _unauthorised(_("Wrong username or password."))
    security_event_record(kind=SecurityEvent.Kind.LOGIN, request=request, user=user, via="api")
    return _token_out(tokens_issue(user=user))


def token_refresh(request, payload: RefreshIn):
    issued = tokens_refresh(refresh=payload.refresh)
    if issued is None:
        raise _unauthorised(_("The refresh token is not valid; sign in again."))
    return _token_out(issued)


def token_logout(request):
    tokens_revoke_family(token=request.api_token)
    security_event_record(kind=SecurityEvent.Kind.LOGOUT, request=request, user=request.user, via="api")
    return Status(204, None)


def me(request):
    return request.user


def auth_router() -> Router:
    """The sign-in routes; a fresh router per API (branch and platform both mount one)."""
    router = Router(tags=["auth"])
    refused = {401: ErrorOut, 422: ValidationErrorOut}
    router.post(
        "/token/",
        # 429 (with Retry-After) once a username has failed too often from one address: accounts/lockout.py
        response={200: TokenOut, **refused, 429: ErrorOut},
        auth=None,
        operation_id="auth_token",
        summary="Sign in and get API tokens",
    )(token_obtain)
    router.post(
        "/refresh/",
        response={200: TokenOut, **refused},
        auth=None,
        operation_id="auth_refresh",
        summary="Swap a refresh token for new tokens",
    )(token_refresh)
    router.post(
        "/logout/",
        response={204: None, 401: ErrorOut},
        auth=BranchTokenAuth(),
        operation_id="auth_logout",
        summary="Revoke this sign-in's tokens",
    )(token_logout)
    router.get(
        "/me/",
        response={200: MeOut, 401: ErrorOut},
        auth=BranchTokenAuth(),
        operation_id="auth_me",
        summary="The signed-in user",
    )(me)
    return router
