"""The clinical API's request and response shapes (the Dart app's contract).

Requests are loose on purpose where the services check more (lengths, phone numbers, dates in
range): the services answer every bad field at once, in one place for the API and the forms.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import Field

from accounts.schemas import Text

GenderIn = Literal["female", "male", "other", "unknown"]
IdentifierType = Literal["national_health_id", "national_id", "passport", "previous_mrn"]
Severity = Literal["unknown", "mild", "moderate", "severe"]


class AgeIn(Schema):
    value: int
    unit: Literal["years", "months", "days"] = "years"


class ContactIn(Schema):
    name: Text = ""
    relation: Text = ""
    phone: Text = ""


class Contact(Schema):
    name: str
    relation: str
    phone: str


class RemindersIn(Schema):
    channel: Literal["sms", "email"] | None = Field(None, description="How reminders reach the patient.")
    language: str | None = Field(None, max_length=10, description="A language code; empty for the branch's.")
    opt_out: bool | None = Field(None, description="True: no reminders at all.")


class Reminders(Schema):
    channel: str
    language: str
    opt_out: bool


class Identifier(Schema):
    type: IdentifierType
    value: Text


class AllergyIn(Schema):
    substance: Text
    reaction: Text = ""
    severity: Severity = "unknown"


class Allergy(Schema):
    substance: str
    reaction: str
    severity: Severity


class MedicalHistory(Schema):
    chronic_conditions: Text = ""
    current_medication: Text = ""
    notes: Text = ""


class PatientIn(Schema):
    full_name: Text | None = Field(None, description="Required unless `description` registers an unidentified patient.")
    description: Text | None = Field(None, description="For an unidentified emergency patient, instead of a name.")
    gender: GenderIn | None = None
    date_of_birth: dt.date | None = Field(None, description="Or give `age`; one of the two is required.")
    age: AgeIn | None = Field(None, description="Stored as an estimated date of birth.")
    phone: Text | None = Field(None, description="E.164, or a national number of the branch's country.")
    email: Text | None = None
    address: Text | None = None
    contact: ContactIn | None = Field(None, description="A guardian or emergency contact.")
    reminders: RemindersIn | None = Field(None, description="How the patient hears from the branch.")
    identifiers: list[Identifier] | None = None
    allergies: list[AllergyIn] | None = None
    medical_history: MedicalHistory | None = None
    confirm_new: bool = Field(False, description="The desk has checked the possible duplicates: register anyway.")


class PatientPatch(PatientIn):
    """Only the fields sent are changed; lists (identifiers, allergies) are replaced whole."""


class PatientBrief(Schema):
    id: uuid.UUID
    mrn: str
    full_name: str
    unidentified: bool
    date_of_birth: dt.date
    date_of_birth_estimated: bool
    age: int
    age_display: str
    gender: str
    phone: str


class PatientOut(PatientBrief):
    description: str
    email: str
    address: str
    contact: Contact
    reminders: Reminders
    identifiers: list[Identifier]
    allergies: list[Allergy]
    medical_history: MedicalHistory | None = Field(description="Null for receptionists (minimum necessary).")
    registered_at: dt.datetime


class PatientCreated(PatientOut):
    shared_phone: list[PatientBrief] = Field(description="Others registered with the same phone number (a hint).")


class PatientList(Schema):
    items: list[PatientBrief]
    count: int
    page: int
    page_size: int


class Person(Schema):
    id: int
    full_name: str


class TreatmentBrief(Schema):
    id: int
    name: str
    code: str


class PrescriptionLineIn(Schema):
    medicine: Text = Field(description="Generic name.")
    strength: Text = ""
    dose: Text
    frequency: Text
    duration: Text
    instructions: Text = ""


class PrescriptionLineOut(Schema):
    medicine: str
    strength: str
    dose: str
    frequency: str
    duration: str
    instructions: str


class PrescriptionOut(Schema):
    id: uuid.UUID
    lines: list[PrescriptionLineOut]
    pdf_status: str = Field(description="pending, ready or failed: GET /api/prescriptions/{id}/pdf/ when ready.")


class PdfPending(Schema):
    status: str = Field(description="pending: ask again after Retry-After seconds.")


class RecordOut(Schema):
    """A treatment record. For receptionists the clinical fields are null (minimum necessary)."""

    id: uuid.UUID
    lineage: uuid.UUID
    version: int
    is_current: bool
    visit_at: dt.datetime
    recorded_at: dt.datetime
    doctor: Person
    treatment: TreatmentBrief | None
    appointment_id: uuid.UUID | None
    diagnosis: str | None = None
    icd10_code: str | None = None
    clinical_notes: str | None = None
    patient_advice: str | None = None
    follow_up_on: dt.date | None = None
    follow_up_note: str | None = None
    correction_reason: str | None = None
    prescription: PrescriptionOut | None = None


class TimelineEntry(RecordOut):
    earlier_versions: list[RecordOut]


class Timeline(Schema):
    items: list[TimelineEntry]
    count: int
    page: int
    page_size: int


class AppointmentBrief(Schema):
    id: uuid.UUID
    start: dt.datetime
    end: dt.datetime
    status: str
    doctor: Person
    treatment: str


class Profile(PatientOut):
    access: Literal["role", "assignment", "break_glass"]
    assigned_doctors: list[Person]
    recent_appointments: list[AppointmentBrief]
    recent_treatments: list[RecordOut]


class FollowUpIn(Schema):
    in_days: int | None = None
    on: dt.date | None = None
    note: Text = Field("", description="For the front desk: shown on their list of visits to book.")


class RecordFieldsIn(Schema):
    appointment_id: uuid.UUID | None = None
    treatment_id: int | None = None
    diagnosis: Text = ""
    icd10_code: Text = Field("", description="ICD-10, e.g. J45 or J45.901.")
    clinical_notes: Text = Field("", description="Seen by staff only.")
    patient_advice: Text = Field("", description="Printed on the prescription and shown in the portal.")
    follow_up: FollowUpIn | None = None
    prescriptions: list[PrescriptionLineIn] = []
    allergy_acknowledged: bool = Field(
        False,
        description="The doctor has checked a medicine that clashes with a recorded allergy (else 409 "
        "`allergy_conflict` with the clashes).",
    )


class RecordIn(RecordFieldsIn):
    patient_id: uuid.UUID


class CorrectionIn(RecordFieldsIn):
    correction_reason: Text


class TreatmentIn(Schema):
    name: Text
    code: Text
    duration_minutes: int = 15
    active: bool = True


class TreatmentPatch(Schema):
    name: Text | None = None
    code: Text | None = None
    duration_minutes: int | None = None
    active: bool | None = None


class TreatmentOut(Schema):
    id: int
    name: str
    code: str
    duration_minutes: int
    active: bool


class AssignIn(Schema):
    doctor_id: int


class BreakGlassIn(Schema):
    reason: Text


class BreakGlassOut(Schema):
    id: int
    patient_id: uuid.UUID
    doctor: Person
    reason: str
    opened_at: dt.datetime
    expires_at: dt.datetime
    reviewed_at: dt.datetime | None
    review_note: str


class ReviewIn(Schema):
    note: Text = ""


class PatientRef(Schema):
    id: uuid.UUID
    mrn: str
    full_name: str
    phone: str


class FollowUpOut(Schema):
    """A visit a doctor asked for, for the front desk to book."""

    record_id: uuid.UUID
    patient: PatientRef
    doctor: Person
    due_on: dt.date
    note: str
    visit_at: dt.datetime


class FollowUpList(Schema):
    items: list[FollowUpOut]
    count: int
    page: int
    page_size: int
