from __future__ import annotations

import datetime as dt
import uuid

from ninja import Schema
from pydantic import ConfigDict, Field

from accounts.schemas import Text
from clinical.schemas import Allergy, Contact, ContactIn, PrescriptionLineOut, Reminders, RemindersIn
from clinical.selectors import MAX_PAGE


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
    cancellable_until: dt.datetime | None = Field(
        description="Until when the portal may cancel it (the branch's cut-off); null unless booked."
    )


class PortalAppointmentList(Schema):
    items: list[PortalAppointmentOut]
    count: int
    page: int
    page_size: int


class PortalAppointmentQuery(Schema):
    patient: uuid.UUID = Field(description="One of the records in /api/portal/me/.")
    upcoming: bool | None = Field(None, description="true: still to come; false: past; absent: all.")
    page: int = Field(1, ge=1, le=MAX_PAGE)
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
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(20, ge=1, le=100)


class PortalBookIn(Schema):
    """No overrides: a field the desk's booking has beyond these (``overbook``, ``override_reason``)
    is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    patient: uuid.UUID = Field(description="One of the records in /api/portal/me/.")
    doctor_id: int = Field(description="From GET /api/doctors/.")
    treatment_id: int = Field(description="From GET /api/treatments/.")
    start: dt.datetime = Field(description="A free start from GET /api/doctors/{doctor_id}/slots/, with its offset.")


class PortalCancelIn(Schema):
    reason: str = Field("", max_length=300, description="Optional, for the front desk.")


class PortalPatientOut(Schema):
    """A linked record as its patient reads it: no medical history, no clinical notes."""

    id: uuid.UUID
    mrn: str
    full_name: str
    date_of_birth: dt.date
    age_display: str
    gender: str
    phone: str
    email: str
    address: str
    contact: Contact = Field(description="A guardian or emergency contact.")
    reminders: Reminders
    allergies: list[Allergy] = Field(description="As the branch recorded them; the desk changes them.")


class PortalPatientPatch(Schema):
    """The contact details, checked as at registration; only the fields sent are changed. Any other
    field is refused (422): the name, birth date and identifiers are changed at the front desk."""

    model_config = ConfigDict(extra="forbid")

    phone: Text | None = Field(None, description="E.164, or a national number of the branch's country.")
    email: Text | None = None
    address: Text | None = None
    contact: ContactIn | None = Field(None, description="A guardian or emergency contact.")
    reminders: RemindersIn | None = Field(None, description="How the patient hears from the branch.")


class PortalPrescriptionBrief(Schema):
    id: uuid.UUID
    lines: list[PrescriptionLineOut]
    pdf_status: str = Field(description="pending, ready or failed: GET /api/portal/prescriptions/{id}/pdf/.")


class PortalTimelineEntry(Schema):
    """A visit as the patient reads it: the advice and the medicines, never the diagnosis or notes."""

    id: uuid.UUID
    visit_at: dt.datetime = Field(description="With the branch's offset.")
    doctor: DoctorBrief
    treatment: TreatmentName | None
    advice: str = Field(description="The doctor's advice for the patient.")
    follow_up_on: dt.date | None = Field(description="When the doctor wants to see the patient again.")
    prescription: PortalPrescriptionBrief | None


class PortalTimeline(Schema):
    items: list[PortalTimelineEntry]
    count: int
    page: int
    page_size: int


class PortalAccessEntry(Schema):
    at: dt.datetime = Field(description="With the branch's offset.")
    role: str = Field(
        description="hospital_admin, doctor or receptionist; patient: another account linked to the record "
        "(a parent, a carer)."
    )
    name: str | None = Field(description="Who it was, where the branch shows names; otherwise null.")
    action: str = Field(description="What was done, for code: e.g. view_profile, record, book.")
    what: str = Field(description="What was done, for people, in the request's language.")
    break_glass: bool = Field(description="An emergency opening by a doctor not assigned to the patient.")


class PortalAccessLog(Schema):
    items: list[PortalAccessEntry]
    count: int
    page: int
    page_size: int


class PortalQueuePlace(Schema):
    token: str = Field(description="As on the slip and the waiting-room board.")
    doctor: DoctorBrief
    state: str = Field(description="waiting, called, with_doctor, done, left or skipped.")
    ahead: int | None = Field(description="Patients before them; null once called or done.")
    wait_minutes: int | None = Field(description="An estimate from today's pace; null once called or done.")
    arrived_at: dt.datetime


class PortalQueueOut(Schema):
    places: list[PortalQueuePlace] = Field(description="Today's visits of the record in a queue.")
