"""Patient accounts: staff invite a registered patient to the portal, the patient accepts with
the one-time link and sets a password, and staff link an account to more patient records."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.audit import security_event_record
from accounts.links import branch_base_url
from accounts.models import Role, SecurityEvent, User
from accounts.services import account_end
from accounts.tasks import mail_send
from accounts.tokens import token_digest
from clinical.audit import audit_record
from clinical.models import AuditEvent, ContactChannel, Patient, Treatment
from clinical.normalise import PhoneError, phone_e164
from clinical.selectors import patient_language
from clinical.services import patient_update
from core.branch import branch_current, branch_zone
from core.errors import DomainError
from core.ratelimit import over_limit, seconds_left
from core.sms import branch_sms_send
from portal.models import PatientLink, PortalInvite
from portal.selectors import cancellable_until
from scheduling.models import Appointment
from scheduling.services import appointment_book, appointment_cancel
from workers.outbox import outbox_enqueue

INVITE_TASK = "portal.send_invite"
# Bookings, cancellations and contact changes one account may make in an hour: a family's month
# of visits fits easily, a script filling a doctor's week does not.
PORTAL_CHANGES_PER_HOUR = 30


def portal_invite(*, patient: Patient, invited_by: User, channel: str = "") -> PortalInvite:
    """Invite a registered patient to the portal by e-mail or text message (their chosen way, by
    default). Invitations of the same patient still open are revoked: only the newest link works."""
    if not channel and not (patient.email or patient.phone):
        raise DomainError.invalid("channel", _("The patient has no e-mail address or phone number; add one first."))
    if not channel:  # the way they chose, if the desk has its address; else whichever it has
        reachable: dict[str, bool] = {
            ContactChannel.EMAIL: bool(patient.email),
            ContactChannel.SMS: bool(patient.phone),
        }
        channel = patient.contact_channel if reachable.get(patient.contact_channel) else ""
        channel = channel or (ContactChannel.EMAIL if patient.email else ContactChannel.SMS)
    if channel not in ContactChannel.values:
        raise DomainError.invalid("channel", _("Choose e-mail or text message."))
    if channel == ContactChannel.EMAIL and not patient.email:
        raise DomainError.invalid("channel", _("The patient has no e-mail address; add one first."))
    if channel == ContactChannel.SMS and not patient.phone:
        raise DomainError.invalid("channel", _("The patient has no phone number; add one first."))
    now = timezone.now()
    with transaction.atomic():
        # One invitation of a patient at a time: two desks at once leave one link, not two.
        Patient.objects.select_for_update().filter(pk=patient.pk).exists()
        PortalInvite.objects.filter(patient=patient, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        invite = PortalInvite.objects.create(
            patient=patient,
            channel=channel,
            expires_at=now + dt.timedelta(hours=settings.PORTAL_INVITE_HOURS),
            invited_by=invited_by,
        )
        audit_record(actor=invited_by, action=AuditEvent.Action.PORTAL_INVITE, patient_id=patient.pk, channel=channel)
        outbox_enqueue(INVITE_TASK, invite_id=invite.pk)
    return invite


def portal_invite_revoke(*, invite: PortalInvite, revoked_by: User) -> PortalInvite:
    """End an invitation's link; an accepted one is left as it is (its account stays)."""
    with transaction.atomic():
        ended = PortalInvite.objects.filter(pk=invite.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if ended:
            audit_record(actor=revoked_by, action=AuditEvent.Action.PORTAL_INVITE_REVOKE, patient_id=invite.patient_id)
    invite.refresh_from_db()
    return invite


def portal_invite_send(invite_id: int) -> bool:
    """Make the link's token and send it, once: a re-delivered task finds the invitation sent.
    The token is in the message only; the row keeps its hash. A failed send keeps nothing, and
    the task's retry makes a new token."""
    with transaction.atomic():
        invite = (
            PortalInvite.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(pk=invite_id, sent_at__isnull=True, revoked_at__isnull=True, accepted_at__isnull=True)
            .first()
        )
        if invite is None or invite.expires_at <= timezone.now():
            return False
        token = secrets.token_urlsafe(32)
        invite.token_hash = token_digest(token)
        invite.sent_at = timezone.now()
        invite.save(update_fields=["token_hash", "sent_at"])
        _deliver(invite, branch_base_url() + reverse("portal:activate", args=[token], urlconf=settings.ROOT_URLCONF))
    return True


def _deliver(invite: PortalInvite, link: str) -> None:
    patient = invite.patient
    branch = branch_current()
    with translation.override(patient_language(patient)):
        context = {"branch": branch, "patient": patient, "link": link, "hours": settings.PORTAL_INVITE_HOURS}
        if invite.channel == ContactChannel.EMAIL:
            subject = render_to_string("email/portal_invite_subject.txt", context).strip()
            mail_send(subject, render_to_string("email/portal_invite.txt", context), patient.email)
        else:
            body = render_to_string("sms/portal_invite.txt", context).strip()
            branch_sms_send(to=patient.phone, body=body, kind="portal_invite")


def portal_invite_find(token: str) -> PortalInvite | None:
    return PortalInvite.objects.select_related("patient").filter(token_hash=token_digest(token)).first()


def portal_invite_check(invite: PortalInvite | None) -> PortalInvite:
    """The invitation if its link may be used now; else a DomainError saying why, for the page."""
    if invite is None:
        raise DomainError.not_found(_("This invitation link is not valid. Ask the hospital for a new one."))
    refusals: dict[str, tuple[str, str]] = {
        PortalInvite.State.ACCEPTED: ("invite_used", _("This invitation was used already. Sign in instead.")),
        PortalInvite.State.REVOKED: (
            "invite_revoked",
            _("This invitation was withdrawn. Ask the hospital for a new one."),
        ),
        PortalInvite.State.EXPIRED: (
            "invite_expired",
            _("This invitation has expired. Ask the hospital for a new one."),
        ),
    }
    if invite.state in refusals:
        code, message = refusals[invite.state]
        raise DomainError(message, kind="conflict", code=code)
    return invite


def portal_invite_accept(*, token: str, password: str) -> User:
    """Make the patient's account from the link, with the password they chose, linked to their
    record; the link cannot be used again."""
    try:
        validate_password(password)
    except ValidationError as exc:
        raise DomainError.invalid("password", " ".join(exc.messages)) from exc
    with transaction.atomic():
        found = portal_invite_find(token)
        invite = portal_invite_check(
            PortalInvite.objects.select_for_update(of=("self",)).select_related("patient").filter(pk=found.pk).first()
            if found
            else None
        )
        patient = invite.patient
        username = (patient.email or patient.phone).lower()
        existing = User.objects.select_for_update().filter(username__iexact=username).first()
        if existing is not None and _was_theirs(existing, patient):
            # The desk ended this account (a lost phone) and invited them again: the same account
            # comes back with the new password, with its links; its old tokens stay ended.
            return _reactivated(existing, invite=invite, password=password)
        if existing is not None:
            raise DomainError.conflict(
                _(
                    "This e-mail address or phone number already signs in to another account. Ask the "
                    "hospital to record your own, or to link your record to that account."
                ),
                code="account_exists",
            )
        account = User(username=username, email=patient.email, full_name=patient.display_name, role=Role.PATIENT)
        account.set_password(password)
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError as exc:
            raise DomainError.conflict(
                _("An account with this address exists already."), code="account_exists"
            ) from exc
        PatientLink.objects.create(
            account=account, patient=patient, relationship=PatientLink.Relationship.SELF, linked_by=invite.invited_by
        )
        invite.accepted_at = timezone.now()
        invite.account = account
        invite.save(update_fields=["accepted_at", "account"])
    return account


def _was_theirs(account: User, patient: Patient) -> bool:
    """A deactivated patient account that acted for ``patient`` as themselves."""
    return (
        account.role == Role.PATIENT
        and not account.is_active
        and PatientLink.objects.filter(
            account=account, patient=patient, relationship=PatientLink.Relationship.SELF
        ).exists()
    )


def _reactivated(account: User, *, invite: PortalInvite, password: str) -> User:
    """The account back for its own record only: links to others (a person it cared for) were
    the desk's to cut when it ended the account, and are not revived with it."""
    for link in PatientLink.objects.filter(account=account).exclude(relationship=PatientLink.Relationship.SELF):
        portal_unlink(link=link, unlinked_by=invite.invited_by)
    account.set_password(password)
    account.is_active = True
    account.save(update_fields=["password", "is_active"])
    security_event_record(
        kind=SecurityEvent.Kind.REACTIVATED, user=account, actor=invite.invited_by, via="portal invite"
    )
    invite.accepted_at = timezone.now()
    invite.account = account
    invite.save(update_fields=["accepted_at", "account"])
    return account


def portal_account_find(identifier: str) -> User | None:
    """An active patient account by what the desk types: its e-mail address or its phone number
    (in any way the branch's country writes it), as the patient signs in with it."""
    typed = (identifier or "").strip()
    if not typed or len(typed) > 254 or "\x00" in typed:
        return None
    accounts = User.objects.filter(role=Role.PATIENT, is_active=True)
    found = accounts.filter(username__iexact=typed).first() or accounts.filter(email__iexact=typed).first()
    if found is None:
        try:
            found = accounts.filter(username=phone_e164(typed, branch_current().country)).first()
        except PhoneError:
            return None
    return found


def portal_link(
    *, account: User, patient: Patient, relationship: str, linked_by: User, address: str | None = None
) -> PatientLink:
    """Let a patient account act for one more record of the branch (a child, a person cared for)."""
    if account.role != Role.PATIENT or not account.is_active:
        raise DomainError.invalid("account", _("Choose an active patient account."))
    if relationship not in PatientLink.Relationship.values:
        raise DomainError.invalid("relationship", _("Choose how they are related."))
    own = PatientLink.objects.filter(account=account, relationship=PatientLink.Relationship.SELF)
    if relationship == PatientLink.Relationship.SELF and own.exclude(patient=patient).exists():
        raise DomainError.invalid("relationship", _("This account is already another patient's own."))
    with transaction.atomic():
        link, created = PatientLink.objects.get_or_create(
            account=account, patient=patient, defaults={"relationship": relationship, "linked_by": linked_by}
        )
        if created:
            audit_record(
                actor=linked_by,
                action=AuditEvent.Action.PORTAL_LINK,
                patient_id=patient.pk,
                address=address,
                account=account.username,
                relationship=relationship,
            )
    return link


def portal_unlink(*, link: PatientLink, unlinked_by: User | None, address: str | None = None) -> None:
    """The account no longer acts for this record (a carer who no longer cares for them); at once,
    on every route. The account keeps its other records."""
    with transaction.atomic():
        deleted, _counts = PatientLink.objects.filter(pk=link.pk).delete()
        if deleted:
            audit_record(
                actor=unlinked_by,
                action=AuditEvent.Action.PORTAL_UNLINK,
                patient_id=link.patient_id,
                address=address,
                account=link.account.username,
            )


def portal_account_deactivate(*, account: User, deactivated_by: User, request: HttpRequest | None = None) -> User:
    """End a patient account at once: its API tokens are deleted and its sessions stop working
    (an inactive user is refused on every request). Its links stay, for the record."""
    if account.role != Role.PATIENT:
        raise DomainError.invalid("account", _("Choose an active patient account."))
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=account.pk).exists()
        account.refresh_from_db()
        if not account.is_active:
            return account
        return account_end(user=account, deactivated_by=deactivated_by, request=request)


# --- what a patient does in the portal, for a record the account is linked to -----------------


def _brake(account: User) -> None:
    """Counts a change asked for (refused ones too: a script trying slots is braked as well)."""
    key = f"portal-changes:{account.pk}"
    if over_limit(key, limit=PORTAL_CHANGES_PER_HOUR, window_seconds=3600):
        raise DomainError.too_many(
            _("Too many changes from this account in an hour; try again later or call the branch."),
            retry_after=seconds_left(key, window_seconds=3600),
        )


def portal_book(
    *,
    account: User,
    patient: Patient,
    doctor: User,
    treatment: Treatment,
    start: dt.datetime,
    address: str | None = None,
) -> Appointment:
    """Book a visit for a linked patient: the strict rules of staff booking, never an override."""
    if not treatment.active:
        raise DomainError.invalid("treatment_id", _("This treatment is not offered any more."))
    _brake(account)
    return appointment_book(
        patient=patient, doctor=doctor, treatment=treatment, start=start, booked_by=account, address=address
    )


def portal_cancel(
    *,
    account: User,
    appointment: Appointment,
    reason: str = "",
    address: str | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Cancel a booked visit of a linked patient, up to the branch's cut-off before it starts;
    later, the front desk does it (422 naming the cut-off)."""
    now = now or timezone.now()
    hours = branch_current().portal_cancel_hours

    def before_the_cut_off(locked: Appointment) -> None:
        if locked.status != Appointment.Status.BOOKED:
            raise DomainError.conflict(
                _("Only a booked visit can be cancelled here. This one is %(status)s.")
                % {"status": locked.get_status_display().lower()},
                code="wrong_status",
                extra={"status": locked.status},
            )
        cut_off = cancellable_until(locked) or locked.start  # booked, so the branch's cut-off
        if now < cut_off:
            return
        if hours:
            message = _(
                "Visits can be cancelled here up to %(hours)d hours before they start (this one until "
                "%(time)s); please call the branch."
            ) % {"hours": hours, "time": date_format(cut_off.astimezone(branch_zone()), "SHORT_DATETIME_FORMAT")}
        else:
            message = _("This visit has started; please call the branch.")
        raise DomainError.invalid("path:appointment_id", message, code="past_cancel_cut_off")

    _brake(account)
    return appointment_cancel(
        appointment=appointment, cancelled_by=account, reason=reason, address=address, check=before_the_cut_off
    )


def portal_patient_update(*, account: User, patient: Patient, data: dict, address: str | None = None) -> Patient:
    """Change a linked record's contact details, checked as at registration. A patient with an
    account of their own changes their own: a carer's account may not redirect their messages."""
    own = PatientLink.objects.filter(
        patient=patient, relationship=PatientLink.Relationship.SELF, account__is_active=True
    ).first()
    if own is not None and own.account_id != account.pk:
        raise DomainError.forbidden(_("This patient changes their own contact details."))
    _brake(account)
    return patient_update(actor=account, patient=patient, data=data, address=address)
