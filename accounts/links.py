"""One-time links to set a password (invites and resets), on the branch's own host."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core.branch import branch_current


def branch_address() -> str:
    """The branch's host, with the port where the platform is not on the scheme's own: as a
    person types it from paper. Without a primary domain (an operator removed it), the one
    onboarding gives it."""
    branch = branch_current()
    primary = branch.get_primary_domain()
    domain = primary.domain if primary else f"{branch.slug}.{settings.BASE_DOMAIN}"
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{domain}{port}"


def branch_base_url() -> str:
    return f"{settings.SITE_SCHEME}://{branch_address()}"


def set_password_link(user: User) -> str:
    """Valid until the password is set (the token covers the password hash) or it expires."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:set_password", kwargs={"uidb64": uid, "token": token}, urlconf=settings.ROOT_URLCONF)
    return branch_base_url() + path
