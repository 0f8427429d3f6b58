"""Demo doctors' profiles, working hours and a few appointments, booked through the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from core.branch import branch_today
from scheduling.models import Appointment, DoctorProfile, WorkingHours
from scheduling.services import appointment_book, doctor_slots

# Monday to Friday 09:00-13:00 and 14:00-17:00; Saturday morning.
HOURS = [(d, dt.time(9), dt.time(13)) for d in range(5)] + [(d, dt.time(14), dt.time(17)) for d in range(5)]
HOURS.append((5, dt.time(9), dt.time(12)))


@transaction.atomic
def seed_branch(hospital: Any) -> None:
    if Appointment.objects.exists():
        return
    doctor = User.objects.filter(role=Role.DOCTOR, is_active=True).order_by("pk").first()
    desk = User.objects.filter(role=Role.RECEPTIONIST, is_active=True).order_by("pk").first()
    if doctor is None or desk is None:
        return
    DoctorProfile.objects.get_or_create(
        user=doctor,
        defaults={
            "specialty": "General practice",
            "department": "Outpatients",
            "qualifications": "MBBS, MRCGP",
            "registration_number": "GMC 7654321" if hospital.country == "GB" else "MCI 12-34567",
            "room": "Room 3",
        },
    )
    WorkingHours.objects.bulk_create(WorkingHours(doctor=doctor, weekday=d, starts=s, ends=e) for d, s, e in HOURS)
    treatment = Treatment.objects.filter(code="CONS").first()
    if treatment is None:
        return
    # The first free slots of the next working days, one patient each.
    day = branch_today()
    for patient in Patient.objects.filter(unidentified=False).order_by("mrn")[:4]:
        slots: list[dt.datetime] = []
        while not slots:
            day += dt.timedelta(days=1)
            slots = doctor_slots(doctor=doctor, day=day, treatment=treatment)
        appointment_book(patient=patient, doctor=doctor, treatment=treatment, start=slots[0], booked_by=desk)
