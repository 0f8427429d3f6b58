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
    token: str | None = Field(description="The queue token once the patient is checked in, e.g. B4.")


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


# --- the queue -------------------------------------------------------------------------------------


class QueueEntryOut(Schema):
    id: uuid.UUID
    token: str = Field(description="As printed on the slip and shown on the board, e.g. W12.")
    kind: str = Field(description="booked, walk_in or late.")
    state: str = Field(description="waiting, called, with_doctor, done, left or skipped.")
    patient: PatientBrief
    doctor: Person
    appointment_id: uuid.UUID
    session_start: dt.time = Field(description="The doctor's session (working interval) the token belongs to.")
    arrived_at: dt.datetime
    called_at: dt.datetime | None
    calls: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    waited_minutes: int = Field(description="From arrival to the call (or to now, while waiting).")
    long_wait: bool = Field(description="Waiting longer than the branch's threshold.")


class QueueOut(Schema):
    doctor: Person
    date: dt.date
    current: list[QueueEntryOut] = Field(description="Called, or with the doctor.")
    waiting: list[QueueEntryOut] = Field(description="In the order the doctor calls them.")
    skipped: list[QueueEntryOut]
    finished: list[QueueEntryOut] = Field(description="Seen, or left without being seen; latest first.")
    minutes_each: float = Field(description="What a visit takes today, for estimates.")


class CheckInIn(Schema):
    appointment_id: uuid.UUID


class WalkInIn(Schema):
    patient_id: uuid.UUID
    doctor_id: int
    treatment_id: int


class CalledOut(Schema):
    called: QueueEntryOut | None = Field(description="The patient called; null when no one was waiting.")
    finished: list[QueueEntryOut] = Field(description="Whom the call finished (the patient seen before).")


class BoardDoctor(Schema):
    doctor: str
    room: str
    called: list[str] = Field(description="Tokens called now.")
    next: list[str] = Field(description="The next tokens waiting, in order.")


class BoardOut(Schema):
    date: dt.date
    doctors: list[BoardDoctor]
