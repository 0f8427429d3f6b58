"""Who may do what: the API's token authentication and the dashboard's role checks."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import translation
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from accounts.models import ApiToken, Role
from accounts.tokens import token_lookup


class BranchTokenAuth(HttpBearer):
    """Bearer tokens issued by this branch (see accounts.tokens)."""

    def authenticate(self, request, token: str):
        api_token = token_lookup(token, kind=ApiToken.Kind.ACCESS)
        if api_token is None:
            return None
        request.user = api_token.user
        request.api_token = api_token
        # The middleware chose the language before the token was read: the account's own wins.
        if api_token.user.preferred_language in dict(settings.LANGUAGES):
            translation.activate(api_token.user.preferred_language)
            request.LANGUAGE_CODE = api_token.user.preferred_language
        return api_token.user


def role_required(*roles: str):
    """Dashboard views: signed in with one of ``roles`` (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.user.role not in roles:
                raise PermissionDenied(_("Your role cannot open this page."))
            return view(request, *args, **kwargs)

        from django.contrib.auth.decorators import login_required

        return login_required(wrapper)

    return decorator


staff_required = role_required(Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST)
admin_required = role_required(Role.HOSPITAL_ADMIN)
