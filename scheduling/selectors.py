"""Reads of the scheduling app: doctors with their profiles, appointments as each role sees them."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import QuerySet

from accounts.models import Role, User
from scheduling.models import Appointment


def doctors_list(*, specialty: str = "", department: str = "") -> QuerySet[User]:
    doctors = User.objects.filter(role=Role.DOCTOR, is_active=True).select_related("doctor_profile")
    if specialty:
        doctors = doctors.filter(doctor_profile__specialty__iexact=specialty)
    if department:
        doctors = doctors.filter(doctor_profile__department__iexact=department)
    return doctors.order_by("full_name", "pk")


def appointments_for(
    *,
    user: User,
    doctor_id: int | None = None,
    patient_id: uuid.UUID | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    status: str = "",
) -> QuerySet[Appointment]:
    """Appointments as a role sees them: the desk and admins every one, a doctor their own."""
    appointments = Appointment.objects.select_related("patient", "doctor", "treatment")
    if user.role == Role.DOCTOR:
        appointments = appointments.filter(doctor=user)
    elif user.role not in (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST):
        return appointments.none()
    if doctor_id:
        appointments = appointments.filter(doctor_id=doctor_id)
    if patient_id:
        appointments = appointments.filter(patient_id=patient_id)
    if starts_from:
        appointments = appointments.filter(start__gte=starts_from)
    if starts_before:
        appointments = appointments.filter(start__lt=starts_before)
    if status:
        appointments = appointments.filter(status=status)
    return appointments.order_by("start", "pk")


def appointment_get(appointment_id: uuid.UUID) -> Appointment | None:
    return Appointment.objects.select_related("patient", "doctor", "treatment").filter(pk=appointment_id).first()
