"""The demo's patient account (patient@<branch>.demo): a parent linked to their own record and
their child's, as the front desk would link them."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Role, User
from clinical.models import Patient
from portal.models import PatientLink
from portal.services import portal_link


@transaction.atomic
def seed_branch(hospital: Any) -> None:
    account = User.objects.filter(role=Role.PATIENT, email=f"patient@{hospital.slug}.demo").first()
    desk = User.objects.filter(role=Role.RECEPTIONIST, is_active=True).order_by("pk").first()
    if account is None or desk is None or PatientLink.objects.filter(account=account).exists():
        return
    patients = list(Patient.objects.filter(unidentified=False).order_by("mrn")[:3])
    if len(patients) < 3:
        return
    parent, child = patients[0], patients[2]  # Amelia Hart and her daughter Lily; Anita and Rohan Sharma
    portal_link(account=account, patient=parent, relationship=PatientLink.Relationship.SELF, linked_by=desk)
    portal_link(account=account, patient=child, relationship=PatientLink.Relationship.PARENT, linked_by=desk)
    account.full_name = parent.full_name
    account.save(update_fields=["full_name"])
