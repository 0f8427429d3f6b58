"""Demo doctors' profiles, working hours, two weeks of past visits, this morning's queue (booked
patients checked in with tokens, walk-ins) and a few visits ahead, and a leave over one of them:
all through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from clinical.models import Patient, Treatment
from core.branch import branch_today, branch_zone
from core.errors import DomainError
from scheduling.models import Appointment, DoctorProfile, WorkingHours
from scheduling.queue import queue_call_next, queue_check_in, queue_start, queue_walk_in
from scheduling.services import (
    Override,
    appointment_book,
    appointment_no_show,
    doctor_slots,
    leave_add,
)

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
            "room": "3",
        },
    )
    WorkingHours.objects.bulk_create(WorkingHours(doctor=doctor, weekday=d, starts=s, ends=e) for d, s, e in HOURS)
    treatment = Treatment.objects.filter(code="CONS").first()
    if treatment is None:
        return
    patients = list(Patient.objects.filter(unidentified=False).order_by("mrn"))
    _past_and_today(doctor=doctor, desk=desk, treatment=treatment, patients=patients)
    # The first free slots of the next working days, one patient each.
    day = branch_today()
    booked = []
    for patient in patients[:4]:
        slots: list[dt.datetime] = []
        while not slots:
            day += dt.timedelta(days=1)
            slots = doctor_slots(doctor=doctor, day=day, treatment=treatment)
        booked.append(
            appointment_book(patient=patient, doctor=doctor, treatment=treatment, start=slots[0], booked_by=desk)
        )
    # A training afternoon over the last of them: the admin's Doctors page offers to move it.
    admin = User.objects.filter(role=Role.HOSPITAL_ADMIN, is_active=True).order_by("pk").first()
    if admin is not None and booked:
        last = booked[-1].start
        leave_add(
            doctor=doctor, starts_at=last, ends_at=last + dt.timedelta(hours=3), reason="Training", created_by=admin
        )


def _past_and_today(*, doctor: User, desk: User, treatment: Treatment, patients: list[Patient]) -> None:
    """The last two weeks' visits (entered as back-entries, a few missed) and this morning's: one
    seen, one waiting, one still to come, so the home page, its chart and "my day" have something."""
    zone = branch_zone()
    today = branch_today()
    entered = Override(reason="Demo: entered from the paper list")
    for back in range(1, 15):
        day = today - dt.timedelta(days=back)
        for index, patient in enumerate(patients[: 1 + back % 4]):
            start = dt.datetime.combine(day, dt.time(9, 15 * index), tzinfo=zone)
            visit = appointment_book(
                patient=patient, doctor=doctor, treatment=treatment, start=start, booked_by=desk, override=entered
            )
            if (back + index) % 5 == 0:
                appointment_no_show(appointment=visit, actor=desk)
            else:
                Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.COMPLETED)
    morning = [
        appointment_book(
            patient=patient,
            doctor=doctor,
            treatment=treatment,
            start=dt.datetime.combine(today, dt.time(9, 15 * index), tzinfo=zone),
            booked_by=desk,
            override=entered,
        )
        for index, patient in enumerate(patients[4:7])
    ]
    # The queue: all three checked in (with tokens), the first seen, the second with the doctor,
    # the third waiting; and two walk-ins, when the doctor still has a session today.
    for visit in morning:  # each arrived a few minutes before their time
        queue_check_in(appointment=visit, actor=desk, now=min(visit.start - dt.timedelta(minutes=5), timezone.now()))
    if len(morning) >= 2:
        queue_call_next(doctor=doctor, actor=doctor)
        second = queue_call_next(doctor=doctor, actor=doctor).entry
        if second is not None:
            queue_start(entry=second, actor=doctor)
    for patient in patients[:2]:
        try:
            with transaction.atomic():
                queue_walk_in(patient=patient, doctor=doctor, treatment=treatment, actor=desk)
        except DomainError:  # outside the doctor's hours today, or already booked now
            continue
