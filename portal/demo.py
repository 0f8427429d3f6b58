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
    parent = Patient.objects.filter(unidentified=False).order_by("mrn").first()
    # Their child: the youngest registered with the same phone (Lily Hart; Rohan Sharma).
    child = (
        Patient.objects.filter(phone=parent.phone, date_of_birth__gt=parent.date_of_birth)
        .order_by("-date_of_birth")
        .first()
        if parent is not None and parent.phone
        else None
    )
    if parent is None or child is None:
        return
    portal_link(account=account, patient=parent, relationship=PatientLink.Relationship.SELF, linked_by=desk)
    portal_link(account=account, patient=child, relationship=PatientLink.Relationship.PARENT, linked_by=desk)
    account.full_name = parent.full_name
    account.save(update_fields=["full_name"])
