from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HOSPITAL_ADMIN = "hospital_admin", _("Hospital admin")
    DOCTOR = "doctor", _("Doctor")
    RECEPTIONIST = "receptionist", _("Receptionist")
    PATIENT = "patient", _("Patient")


STAFF_ROLES = (Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST)


class User(AbstractUser):
    """A person who signs in to one branch. Users live in the branch's schema: ids repeat
    across branches, and a user of one branch does not exist in another."""

    # The platform operators (public schema) have no role; every branch user has exactly one.
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the branch's default language."),
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="accounts_user_email_unique_ci", condition=~models.Q(email="")
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def is_hospital_admin(self) -> bool:
        return self.role == Role.HOSPITAL_ADMIN

    @property
    def is_staff_member(self) -> bool:
        return self.role in STAFF_ROLES


class ApiToken(models.Model):
    """An API token issued by this branch. Only its SHA-256 is stored.

    The token text starts with the issuing branch's schema name; the row itself lives in that
    branch's schema, so another branch can neither find nor accept it.
    """

    class Kind(models.TextChoices):
        ACCESS = "access"
        REFRESH = "refresh"

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # A login's refresh token and the access tokens it issues share a family: logout ends them all.
    family = models.UUIDField(default=uuid.uuid4, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} token of user {self.user_id}"


class SecurityEvent(models.Model):
    """Logins, failures, lockouts and changes to accounts, with time and address."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Failed sign-in")
        LOCKED_OUT = "locked_out", _("Locked out")
        LOGOUT = "logout", _("Signed out")
        INVITED = "invited", _("Invited")
        PASSWORD_SET = "password_set", _("Password set")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
        ROLE_CHANGED = "role_changed", _("Role changed")
        DEACTIVATED = "deactivated", _("Deactivated")
        REACTIVATED = "reactivated", _("Reactivated")
        SETTINGS_CHANGED = "settings_changed", _("Branch settings changed")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    username = models.CharField(max_length=150, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.username} at {self.at:%Y-%m-%d %H:%M}"
