"""Who may open which patient. Every lookup of a patient by id for a staff member goes through
``patient_get_for_user``: the same 404 for "does not exist" and "not in this branch", a 403 for
a role that may never do the thing or a doctor who is not assigned, and an audit row either way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from clinical.audit import audit_record
from clinical.models import AuditEvent, BreakGlassAccess, Patient, PatientUserObjectPermission
from core.branch import branch_current
from core.errors import DomainError

ATTEND = "attend_patient"

# What each staff role may do to patients; doctors only to the patients they attend.
REGISTER_ROLES: frozenset[str] = frozenset({Role.HOSPITAL_ADMIN, Role.RECEPTIONIST})
VIEW_ROLES: frozenset[str] = frozenset({Role.HOSPITAL_ADMIN, Role.RECEPTIONIST, Role.DOCTOR})
RECORD_ROLES: frozenset[str] = frozenset({Role.DOCTOR})
ASSIGN_ROLES: frozenset[str] = frozenset({Role.HOSPITAL_ADMIN})
# Minimum necessary: these roles see diagnoses, clinical notes and prescriptions.
CLINICAL_ROLES: frozenset[str] = frozenset({Role.HOSPITAL_ADMIN, Role.DOCTOR})
# The fields of a patient each role may change (doctors: their assigned patients only).
DEMOGRAPHIC_FIELDS: frozenset[str] = frozenset(
    {
        "full_name",
        "description",
        "gender",
        "date_of_birth",
        "age",
        "phone",
        "email",
        "address",
        "contact",
        "identifiers",
        "reminders",
    }
)
SAFETY_FIELDS: frozenset[str] = frozenset({"allergies", "medical_history"})
EDITABLE_FIELDS: dict[str, frozenset[str]] = {
    Role.HOSPITAL_ADMIN: DEMOGRAPHIC_FIELDS | SAFETY_FIELDS,
    # Allergies are for everyone's safety; the medical history is clinical (minimum necessary):
    # the desk may take it down at registration, and does not read or change it afterwards.
    Role.RECEPTIONIST: DEMOGRAPHIC_FIELDS | {"allergies"},
    Role.DOCTOR: SAFETY_FIELDS,
    # In the portal, for a linked record: how the branch reaches them, nothing that identifies them.
    Role.PATIENT: frozenset({"phone", "email", "address", "contact", "reminders"}),
}


@dataclass(frozen=True)
class PatientAccess:
    patient: Patient
    user: User
    via: Literal["role", "assignment", "break_glass"]

    @property
    def clinical(self) -> bool:
        """May see diagnoses, clinical notes and prescriptions."""
        return self.user.role in CLINICAL_ROLES

    @property
    def break_glass(self) -> bool:
        return self.via == "break_glass"


def doctor_attends(doctor: User, patient: Patient) -> bool:
    return PatientUserObjectPermission.objects.filter(
        user=doctor, content_object=patient, permission__codename=ATTEND
    ).exists()


def break_glass_active(doctor: User, patient: Patient) -> BreakGlassAccess | None:
    return (
        BreakGlassAccess.objects.filter(doctor=doctor, patient=patient, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def _patient_id(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def deny(
    *, user: User, action: str, message: str, patient_id: uuid.UUID | None = None, address: str | None = None
) -> DomainError:
    """Record a refused attempt and give the error to raise. Called before any write
    transaction starts, so the record survives the refusal."""
    audit_record(
        actor=user,
        action=action,
        patient_id=patient_id,
        outcome=AuditEvent.Outcome.DENIED,
        address=address,
        reason=message,
    )
    return DomainError.forbidden(message)


def role_check(*, user: User, roles: frozenset[str], action: str, address: str | None = None, patient_id=None) -> None:
    if user.role not in roles:
        if user.role == Role.PATIENT:
            message = _("Patients reach their records through the portal.")
        else:
            message = _("Your role cannot do this.")
        raise deny(user=user, action=action, message=message, patient_id=patient_id, address=address)


def patient_get_for_user(
    *,
    user: User,
    patient_id: uuid.UUID | str,
    action: str,
    roles: frozenset[str] = VIEW_ROLES,
    address: str | None = None,
    audit_read: bool = True,
) -> PatientAccess:
    """The patient ``user`` may act on for ``action``; raises 404 or 403 (recorded).

    ``audit_read`` records an allowed read now; writes record themselves in their service.
    """
    pid = _patient_id(patient_id)
    # The role first: a role that may never do this learns nothing about which ids exist.
    role_check(user=user, roles=roles, action=action, address=address, patient_id=pid)
    patient = Patient.objects.filter(pk=pid).first() if pid else None
    if patient is None:
        raise DomainError.not_found(_("No such patient."))
    via: Literal["role", "assignment", "break_glass"] = "role"
    if user.role == Role.DOCTOR:
        if doctor_attends(user, patient):
            via = "assignment"
        elif break_glass_active(user, patient):
            via = "break_glass"
        else:
            raise deny(
                user=user,
                action=action,
                patient_id=patient.pk,
                address=address,
                message=_("You are not assigned to this patient. In an emergency, use break-glass access."),
            )
    access = PatientAccess(patient=patient, user=user, via=via)
    if audit_read:
        audit_record(actor=user, action=action, patient_id=patient.pk, break_glass=access.break_glass, address=address)
    return access


def prescription_print_roles() -> frozenset[str]:
    """Doctors (their patients) and admins print prescriptions; the desk only where the branch
    allows it."""
    if branch_current().desk_prints_prescriptions:
        return VIEW_ROLES
    return frozenset({Role.HOSPITAL_ADMIN, Role.DOCTOR})
