"""The scheduling API's request and response shapes."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field

from accounts.schemas import Text
from clinical.schemas import Person, TreatmentBrief


class DoctorOut(Schema):
    id: int
    full_name: str
    specialty: str
    department: str
    qualifications: str
    room: str


class SlotsOut(Schema):
    doctor_id: int
    date: dt.date
    treatment_id: int
    time_zone: str
    slots: list[dt.datetime] = Field(description="Free start times, with the branch's offset.")


class PatientBrief(Schema):
    id: uuid.UUID
    mrn: str
    full_name: str


class AppointmentIn(Schema):
    patient_id: uuid.UUID
    doctor_id: int
    treatment_id: int
    start: dt.datetime = Field(description="With its offset, e.g. 2026-12-01T09:30:00+00:00.")
    override_reason: Text = Field(
        "", max_length=300, description="Staff only: break a rule (hours, grid, past) on purpose, saying why."
    )
    overbook: bool = Field(False, description="Staff only, with override_reason: a second patient in a taken slot.")


class AppointmentOut(Schema):
    id: uuid.UUID
    patient: PatientBrief
    doctor: Person
    treatment: TreatmentBrief
    start: dt.datetime
    end: dt.datetime
    status: str
    checked_in_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancel_reason: str
    overbooked: bool
    override_reason: str


class AppointmentList(Schema):
    items: list[AppointmentOut]
    count: int
    page: int
    page_size: int


class CancelIn(Schema):
    reason: Text = Field("", max_length=300)


class RescheduleIn(Schema):
    start: dt.datetime = Field(description="The new start, with its offset.")
    doctor_id: int | None = Field(None, description="Another doctor; the same one when left out.")
    override_reason: Text = Field("", max_length=300, description="Staff only: break a rule on purpose, saying why.")
    overbook: bool = Field(False, description="Staff only, with override_reason: into a taken slot.")
