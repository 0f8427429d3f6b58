"""Every write to accounts, and the rules that go with it."""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.audit import security_event_record
from accounts.models import STAFF_ROLES, Role, SecurityEvent, User
from accounts.tokens import tokens_revoke_all
from core.errors import DomainError
from workers.outbox import outbox_enqueue


def roles_ensure() -> None:
    """Create the branch's role groups (model permissions are attached by later features)."""
    Group.objects.bulk_create([Group(name=role) for role in Role.values], ignore_conflicts=True)


def _normalise_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError.invalid("email", _("Enter a valid e-mail address.")) from exc
    if len(email) > 150:  # the e-mail is the username, which holds 150 characters
        raise DomainError.invalid("email", _("At most 150 characters."))
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def user_role_group_set(*, user: User, role: str) -> None:
    """Put the user in their role's group (and no other): the group carries the model permissions."""
    user.groups.set([Group.objects.get_or_create(name=role)[0]])


@transaction.atomic
def staff_invite(
    *, email: str, role: str, full_name: str = "", invited_by: User | None, request: HttpRequest | None = None
) -> User:
    """Create a staff account without a password and e-mail a one-time link to set one."""
    email = _normalise_email(email)
    if role not in STAFF_ROLES:
        raise DomainError.invalid("role", _("Choose hospital admin, doctor or receptionist."))
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError.conflict(_("Someone in this branch already has that e-mail address."), field="email")
    user = User(username=email.lower(), email=email, full_name=full_name.strip(), role=role)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent invite of the same address
        raise DomainError.conflict(_("Someone in this branch already has that e-mail address."), field="email") from exc
    user_role_group_set(user=user, role=role)
    security_event_record(kind=SecurityEvent.Kind.INVITED, request=request, user=user, actor=invited_by, role=role)
    outbox_enqueue("accounts.send_invite", user_id=user.pk)
    return user


@transaction.atomic
def staff_change_role(*, user: User, role: str, changed_by: User, request: HttpRequest | None = None) -> User:
    if role not in STAFF_ROLES or user.role not in STAFF_ROLES:
        raise DomainError.invalid("role", _("Choose hospital admin, doctor or receptionist."))
    user = _lock_with_admins(user, acting=changed_by)
    if user.role == role:
        return user
    if user.role == Role.HOSPITAL_ADMIN:
        _ensure_another_admin(user)
    previous = user.role
    user.role = role
    user.save(update_fields=["role"])
    user_role_group_set(user=user, role=role)
    security_event_record(
        kind=SecurityEvent.Kind.ROLE_CHANGED,
        request=request,
        user=user,
        actor=changed_by,
        old_role=previous,
        new_role=role,
    )
    return user


def _lock_with_admins(user: User, *, acting: User) -> User:
    """Lock the user, the acting admin and every active admin, in one statement and in id
    order: two admins demoting each other at once wait for each other instead of deadlocking,
    and the second finds that it is no longer an admin."""
    locked = {
        u.pk: u
        for u in User.objects.select_for_update()
        .filter(Q(pk__in=[user.pk, acting.pk]) | Q(role=Role.HOSPITAL_ADMIN, is_active=True))
        .order_by("pk")
    }
    actor = locked.get(acting.pk)
    if actor is None or actor.role != Role.HOSPITAL_ADMIN or not actor.is_active:
        raise DomainError.forbidden(_("Only an active hospital admin can do this."))
    return locked[user.pk]


def _ensure_another_admin(user: User) -> None:
    others = User.objects.filter(role=Role.HOSPITAL_ADMIN, is_active=True).exclude(pk=user.pk)
    if not others.exists():
        raise DomainError.conflict(_("A branch needs at least one active hospital admin."))


@transaction.atomic
def staff_deactivate(*, user: User, deactivated_by: User, request: HttpRequest | None = None) -> User:
    """End the account at once: its sessions stop authenticating (inactive users are refused on
    every request) and its API tokens are deleted."""
    user = _lock_with_admins(user, acting=deactivated_by)
    if user.pk == deactivated_by.pk:
        raise DomainError.conflict(_("You cannot deactivate your own account."))
    if user.role == Role.HOSPITAL_ADMIN:
        _ensure_another_admin(user)
    return account_end(user=user, deactivated_by=deactivated_by, request=request)


def account_end(*, user: User, deactivated_by: User, request: HttpRequest | None = None) -> User:
    """End an account at once, staff or patient: its sessions stop authenticating (inactive
    users are refused on every request), its API tokens are deleted, a security event says who.
    Called inside the caller's transaction, with the user's row locked."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens_revoke_all(user=user)
    security_event_record(kind=SecurityEvent.Kind.DEACTIVATED, request=request, user=user, actor=deactivated_by)
    return user


@transaction.atomic
def staff_reactivate(*, user: User, reactivated_by: User, request: HttpRequest | None = None) -> User:
    user.is_active = True
    user.save(update_fields=["is_active"])
    security_event_record(kind=SecurityEvent.Kind.REACTIVATED, request=request, user=user, actor=reactivated_by)
    return user


@transaction.atomic
def password_set(*, user: User, password: str, request: HttpRequest | None = None) -> User:
    """Set a new password (invite link, reset link or change) and end every API token."""
    user.set_password(password)
    user.save(update_fields=["password"])
    tokens_revoke_all(user=user)
    if request is not None and getattr(request, "user", None) == user:
        update_session_auth_hash(request, user)
    security_event_record(kind=SecurityEvent.Kind.PASSWORD_SET, request=request, user=user)
    return user


@transaction.atomic
def password_reset_request(*, email: str, request: HttpRequest | None = None) -> None:
    """E-mail a reset link if the address belongs to an active account; say nothing either way."""
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None:
        return
    security_event_record(kind=SecurityEvent.Kind.PASSWORD_RESET_REQUESTED, request=request, user=user)
    outbox_enqueue("accounts.send_password_reset", user_id=user.pk)


def user_set_language(*, user: User, language: str) -> User:
    from django.conf import settings

    if language and language not in dict(settings.LANGUAGES):
        raise DomainError.invalid("language", _("Choose one of the offered languages."))
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])
    return user
