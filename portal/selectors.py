"""What the dashboard shows of a patient's portal access."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, User
from clinical.models import AuditEvent, Patient, Prescription, TreatmentRecord
from clinical.selectors import Page, paginate, records_with_prescriptions
from core.branch import branch_current
from portal.models import PatientLink, PortalInvite
from scheduling.models import Appointment

STAFF_ROLES = (Role.HOSPITAL_ADMIN, Role.DOCTOR, Role.RECEPTIONIST)


@dataclass(frozen=True)
class PortalStatus:
    links: list[PatientLink]
    invite: PortalInvite | None  # the newest

    @property
    def own_account(self) -> PatientLink | None:
        """The patient's own active account, if any: a parent's or carer's is not theirs, and they
        may still be invited."""
        return next(
            (
                link
                for link in self.links
                if link.account.is_active and link.relationship == PatientLink.Relationship.SELF
            ),
            None,
        )

    @property
    def invite_open(self) -> bool:
        return self.invite is not None and self.invite.state in (PortalInvite.State.WAITING, PortalInvite.State.SENT)


def portal_status(patient: Patient) -> PortalStatus:
    links = list(PatientLink.objects.filter(patient=patient).select_related("account").order_by("linked_at", "pk"))
    invite = PortalInvite.objects.filter(patient=patient).order_by("-created_at", "-pk").first()
    return PortalStatus(links=links, invite=invite)


def account_links(account: User) -> list[PatientLink]:
    """The records a patient account acts for, oldest link first."""
    return list(PatientLink.objects.filter(account=account).select_related("patient").order_by("linked_at", "pk"))


def linked_patient(account: User, patient_id: uuid.UUID) -> Patient | None:
    """The record, if this account acts for it; None for any other id (of this branch or not)."""
    link = PatientLink.objects.select_related("patient").filter(account=account, patient_id=patient_id).first()
    return link.patient if link else None


def portal_appointments(patient: Patient, *, upcoming: bool | None, page: int, page_size: int) -> Page:
    """A patient's visits: upcoming (booked or checked in, soonest first), past (latest first), or
    all (latest first)."""
    visits = Appointment.objects.filter(patient=patient).select_related("doctor", "treatment")
    now = timezone.now()
    if upcoming is True:
        visits = visits.filter(end__gt=now, status__in=Appointment.ACTIVE).order_by("start", "pk")
    elif upcoming is False:
        visits = visits.filter(start__lt=now).order_by("-start", "-pk")
    else:
        visits = visits.order_by("-start", "-pk")
    return paginate(visits, page=page, page_size=page_size)


def portal_prescriptions(patient: Patient, *, page: int, page_size: int) -> Page:
    """The patient's prescriptions as they stand (the current version of each record), latest
    visit first."""
    prescriptions = (
        Prescription.objects.filter(record__patient=patient, record__is_current=True)
        .select_related("record__doctor")
        .prefetch_related("lines")
        .order_by("-record__visit_at", "-pk")
    )
    return paginate(prescriptions, page=page, page_size=page_size)


def portal_prescription(account: User, prescription_id: uuid.UUID) -> Prescription | None:
    """A current prescription of a record the account acts for; None for any other id."""
    return (
        Prescription.objects.filter(
            pk=prescription_id,
            record__is_current=True,
            record__patient__account_links__account=account,
        )
        .select_related("record__patient")
        .first()
    )


def portal_appointment(account: User, appointment_id: uuid.UUID) -> Appointment | None:
    """A visit of a record the account acts for; None for any other id."""
    return (
        Appointment.objects.filter(pk=appointment_id, patient__account_links__account=account)
        .select_related("doctor", "treatment", "patient")
        .first()
    )


def portal_timeline(patient: Patient, *, page: int, page_size: int) -> Page:
    """The patient's visits as recorded (the current version of each), latest first."""
    records = records_with_prescriptions(TreatmentRecord.objects.filter(patient=patient, is_current=True))
    records = records.order_by("-visit_at", "-id")
    return paginate(records, page=page, page_size=page_size)


@dataclass(frozen=True)
class AccessEntry:
    """One line of a patient's access log, as the branch lets patients read it."""

    at: dt.datetime
    role: str  # a staff role, or "patient": another account linked to the record
    name: str | None  # only where the branch shows staff names
    action: str
    what: str
    break_glass: bool


def portal_access_log(patient: Patient, *, account: User, page: int, page_size: int) -> Page:
    """Who did what with the patient's record, latest first: every allowed action by staff, and
    the changes other accounts linked to it made (a parent, a carer). A refused attempt opened
    nothing; the reader's own actions and the system's are left out. Names only where the
    branch shows them."""
    events = (
        AuditEvent.objects.filter(patient_id=patient.pk, outcome=AuditEvent.Outcome.ALLOWED, actor_id__isnull=False)
        .filter(Q(actor_role__in=STAFF_ROLES) | Q(actor_role=Role.PATIENT))
        .exclude(actor_role=Role.PATIENT, actor_id=account.pk)
        .order_by("-id")
    )
    found = paginate(events, page=page, page_size=page_size)
    names = branch_current().portal_names_staff
    labels = dict(AuditEvent.Action.choices)
    found.items = [
        AccessEntry(
            at=event.at,
            role=event.actor_role,
            name=event.actor_name if names else None,
            action=event.action,
            what=str(labels.get(event.action, event.action)),
            break_glass=event.break_glass,
        )
        for event in found.items
    ]
    return found


def cancellable_until(visit: Appointment) -> dt.datetime | None:
    """Until when the portal may cancel a visit: the branch's cut-off before it; None unless booked."""
    if visit.status != Appointment.Status.BOOKED:
        return None
    return visit.start - dt.timedelta(hours=branch_current().portal_cancel_hours)


def patient_link(patient: Patient, account_id: int) -> PatientLink | None:
    return PatientLink.objects.select_related("account").filter(patient=patient, account_id=account_id).first()


@dataclass(frozen=True)
class PortalCandidate:
    """An account the desk is about to link, with whose own it is."""

    account: User
    own_record: Patient | None
    records: int


def portal_candidate(account: User) -> PortalCandidate:
    links = PatientLink.objects.filter(account=account).select_related("patient")
    own = next((link.patient for link in links if link.relationship == PatientLink.Relationship.SELF), None)
    return PortalCandidate(account=account, own_record=own, records=len(links))


def portal_account_by_id(account_id: str) -> User | None:
    """An active patient account by its id, as the desk's confirmation sends it."""
    if not account_id.isdigit() or len(account_id) > 18:
        return None
    return User.objects.filter(pk=int(account_id), role=Role.PATIENT, is_active=True).first()
