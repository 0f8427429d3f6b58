from __future__ import annotations

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field

from clinical.schemas import PrescriptionLineOut


class LinkedPatientOut(Schema):
    id: uuid.UUID = Field(description="Name it in the portal routes that act for a patient.")
    mrn: str
    full_name: str
    date_of_birth: dt.date | None
    relationship: str = Field(description="self, parent or carer.")


class PortalMeOut(Schema):
    username: str
    full_name: str
    preferred_language: str
    patients: list[LinkedPatientOut] = Field(description="The records this account acts for, oldest link first.")


class DoctorBrief(Schema):
    id: int
    full_name: str


class TreatmentName(Schema):
    id: int
    name: str


class PortalAppointmentOut(Schema):
    id: uuid.UUID
    start: dt.datetime = Field(description="With the branch's offset.")
    end: dt.datetime
    time_zone: str = Field(description="The branch's time zone, e.g. Europe/London.")
    doctor: DoctorBrief
    treatment: TreatmentName
    status: str = Field(description="booked, checked_in, completed, cancelled or no_show.")


class PortalAppointmentList(Schema):
    items: list[PortalAppointmentOut]
    count: int
    page: int
    page_size: int


class PortalAppointmentQuery(Schema):
    patient: uuid.UUID = Field(description="One of the records in /api/portal/me/.")
    upcoming: bool | None = Field(None, description="true: still to come; false: past; absent: all.")
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)


class PortalPrescriptionOut(Schema):
    """A prescription as the patient reads it: no diagnosis, no clinical notes."""

    id: uuid.UUID
    issued: dt.datetime = Field(description="The visit, with the branch's offset.")
    doctor: DoctorBrief
    lines: list[PrescriptionLineOut]
    advice: str = Field(description="The doctor's advice for the patient.")
    pdf_status: str = Field(description="pending, ready or failed: GET /api/portal/prescriptions/{id}/pdf/.")


class PortalPrescriptionList(Schema):
    items: list[PortalPrescriptionOut]
    count: int
    page: int
    page_size: int


class PortalPatientPage(Schema):
    patient: uuid.UUID = Field(description="One of the records in /api/portal/me/.")
    page: int = Field(1, ge=1)
    page_size: int = Field(20, ge=1, le=100)
