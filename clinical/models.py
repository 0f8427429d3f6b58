"""Patients, their identifiers and allergies, the treatments catalogue, treatment records with
their prescriptions, break-glass access and the audit trail. Every table lives in a branch's
schema; nothing here is shared between branches."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

# Users exist in the public schema too (platform operators), where these tables do not. Django
# looks for rows to cascade to or protect in every table that refers to a user, whatever the
# schema, so deleting an operator would fail on a missing table. DO_NOTHING skips that search;
# the database's foreign key still refuses to delete a branch user who is referred to (staff
# are deactivated, never deleted).
USER_KEPT = models.DO_NOTHING


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class ContactChannel(models.TextChoices):
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The branch's prefix and a number from the `clinical_mrn` sequence (see services.mrn_next).
    mrn = models.CharField(_("MRN"), max_length=32, unique=True, editable=False)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    # An unidentified emergency patient: a description stands in for the name until completed.
    unidentified = models.BooleanField(_("unidentified"), default=False)
    description = models.TextField(_("description"), blank=True)
    # Lower-case, accents stripped, spaces collapsed, computed in Python: unaccent() is not
    # IMMUTABLE, so it cannot back an index; this column carries the trigram index instead.
    name_search = models.CharField(max_length=400, editable=False)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices)
    date_of_birth = models.DateField(_("date of birth"))
    date_of_birth_estimated = models.BooleanField(_("date of birth estimated"), default=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    # How the patient hears from the branch (reminders), in which language, and whether at all.
    contact_channel = models.CharField(
        _("reminders by"), max_length=10, choices=ContactChannel.choices, default=ContactChannel.SMS
    )
    preferred_language = models.CharField(_("language"), max_length=10, blank=True)
    reminders_opt_out = models.BooleanField(_("no reminders"), default=False)
    address = models.TextField(_("address"), blank=True)
    contact_name = models.CharField(_("guardian or emergency contact"), max_length=200, blank=True)
    contact_relation = models.CharField(_("relation"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    chronic_conditions = models.TextField(_("chronic conditions"), blank=True)
    current_medication = models.TextField(_("current medication"), blank=True)
    history_notes = models.TextField(_("medical history"), blank=True)
    registered_at = models.DateTimeField(auto_now_add=True, db_index=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("patient")
        permissions = [("attend_patient", "Attends the patient (an assigned doctor)")]
        indexes = [
            GinIndex(fields=["name_search"], opclasses=["gin_trgm_ops"], name="clinical_patient_name_trgm"),
            models.Index(fields=["phone"], name="clinical_patient_phone", condition=~Q(phone="")),
            models.Index(fields=["date_of_birth"], name="clinical_patient_dob"),
            models.Index(fields=["name_search", "id"], name="clinical_patient_name_order"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        return self.full_name or _("Unidentified: %(description)s") % {"description": self.description[:60]}


class PatientUserObjectPermission(UserObjectPermissionBase):
    """An assignment: guardian's direct foreign-key model (no varchar join on a UUID).
    Groups are never given patients, so there is no group counterpart."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT)
    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)


class IdentifierKind(models.TextChoices):
    NATIONAL_HEALTH_ID = "national_health_id", _("National health id")
    NATIONAL_ID = "national_id", _("National id")
    PASSPORT = "passport", _("Passport")
    PREVIOUS_MRN = "previous_mrn", _("MRN from a previous system")


class PatientIdentifier(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("type"), max_length=32, choices=IdentifierKind.choices)
    value = models.CharField(_("value"), max_length=64)
    # Upper-case without spaces or dashes: "ab 12-34" and "AB1234" are the same passport.
    value_normalised = models.CharField(max_length=64, editable=False, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value_normalised"], name="clinical_identifier_unique_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class AllergySeverity(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    MILD = "mild", _("Mild")
    MODERATE = "moderate", _("Moderate")
    SEVERE = "severe", _("Severe")


class Allergy(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(_("substance"), max_length=100)
    reaction = models.CharField(_("reaction"), max_length=200, blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=AllergySeverity.choices, default=AllergySeverity.UNKNOWN
    )

    class Meta:
        verbose_name_plural = _("allergies")
        ordering = ["substance"]
        constraints = [
            models.UniqueConstraint("patient", Lower("substance"), name="clinical_allergy_unique_per_patient"),
        ]

    def __str__(self) -> str:
        return self.substance


class Treatment(models.Model):
    """An entry of the branch's treatments catalogue (a consultation, a dressing, a scan...)."""

    name = models.CharField(_("name"), max_length=120)
    code = models.CharField(_("code"), max_length=20, unique=True)
    duration_minutes = models.PositiveSmallIntegerField(_("default duration (minutes)"), default=15)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=480), name="clinical_treatment_duration"
            ),
            # Doctors pick treatments by name: two "ECG"s would look the same in their list.
            models.UniqueConstraint(Lower("name"), name="clinical_treatment_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class TreatmentRecord(models.Model):
    """What a doctor recorded at a visit. Never edited: a correction is a new version of the
    same lineage, and the earlier version stays visible in the timeline."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The id of the first version; every correction shares it.
    lineage = models.UUIDField(db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    correction_reason = models.TextField(blank=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="treatment_records")
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    treatment = models.ForeignKey(Treatment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The visit this record belongs to: named by string, so clinical never imports scheduling.
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="treatment_records",
        db_column="appointment_id",
    )
    diagnosis = models.TextField(blank=True)
    icd10_code = models.CharField(max_length=8, blank=True)
    clinical_notes = models.TextField(blank=True)
    patient_advice = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    follow_up_note = models.CharField(max_length=200, blank=True)
    # Set when the front desk has booked the follow-up (or decided not to).
    follow_up_done_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    # When the visit happened; versions of one record share it.
    visit_at = models.DateTimeField()

    class Meta:
        ordering = ["-visit_at", "-version"]
        indexes = [
            models.Index(
                fields=["patient", "-visit_at"], name="clinical_record_timeline", condition=Q(is_current=True)
            ),
            models.Index(fields=["doctor", "visit_at"], name="clinical_record_doctor_day"),
            models.Index(
                fields=["follow_up_on"],
                name="clinical_record_follow_ups",
                condition=Q(is_current=True, follow_up_on__isnull=False, follow_up_done_at__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["lineage", "version"], name="clinical_record_version_unique"),
            models.UniqueConstraint(
                fields=["lineage"], condition=Q(is_current=True), name="clinical_record_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.lineage} v{self.version}"


def verification_code_new() -> str:
    """What a pharmacist types or scans to check a printed prescription: long and random, so
    that codes cannot be guessed or walked through (32 characters, 192 bits)."""
    return secrets.token_urlsafe(24)


class Prescription(models.Model):
    """The medicines of one record version; printed as a PDF by the workers. A version is
    rendered once: its file never changes afterwards (a correction is a new version)."""

    class PdfStatus(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    record = models.OneToOneField(TreatmentRecord, on_delete=models.PROTECT, related_name="prescription")
    created_at = models.DateTimeField(auto_now_add=True)
    verification_code = models.CharField(max_length=64, unique=True, default=verification_code_new, editable=False)
    pdf_status = models.CharField(max_length=10, choices=PdfStatus.choices, default=PdfStatus.PENDING)
    # In the branch's storage (the path includes the schema); empty until rendered.
    pdf_file = models.FileField(upload_to="prescriptions/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    # Why the last render failed, for staff (never shown to patients).
    pdf_error = models.TextField(blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"prescription of {self.record}"


class PrescriptionLine(models.Model):
    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    medicine = models.CharField(_("medicine (generic name)"), max_length=120)
    strength = models.CharField(_("strength"), max_length=60, blank=True)
    dose = models.CharField(_("dose"), max_length=60)
    frequency = models.CharField(_("frequency"), max_length=60)
    duration = models.CharField(_("duration"), max_length=60)
    instructions = models.CharField(_("instructions"), max_length=300, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["prescription", "position"], name="clinical_line_position_unique"),
        ]

    def __str__(self) -> str:
        return self.medicine


class RecordDraft(models.Model):
    """What a doctor has typed into a record form and not saved yet: kept as they type, so an
    idle logout or a closed tab loses nothing. Deleted when the record is saved."""

    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    # The lineage being corrected, or none for a new record.
    lineage = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "patient"], condition=Q(lineage__isnull=True), name="clinical_draft_one_new"
            ),
            models.UniqueConstraint(fields=["doctor", "patient", "lineage"], name="clinical_draft_one_per_record"),
        ]

    def __str__(self) -> str:
        return f"draft of {self.doctor_id} for {self.patient_id}"


class BreakGlassAccess(models.Model):
    """An unassigned doctor's emergency access to one patient, for a limited time."""

    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="break_glass_accesses")
    reason = models.TextField()
    opened_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["doctor", "patient", "expires_at"], name="clinical_break_glass_active")]

    def __str__(self) -> str:
        return f"break-glass by {self.doctor_id} on {self.patient_id}"


class AuditEvent(models.Model):
    """Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and chained: each row's hash
    covers its content and the previous row's hash, so an edited or removed row shows.

    No foreign keys: a cascade or SET NULL from a deleted user would have to update rows here.
    """

    class Action(models.TextChoices):
        VIEW_PROFILE = "view_profile", _("Opened the profile")
        VIEW_TIMELINE = "view_timeline", _("Opened the timeline")
        VIEW_PRESCRIPTION = "view_prescription", _("Opened a prescription")
        REGISTER = "register", _("Registered")
        UPDATE = "update", _("Changed details")
        RECORD = "record", _("Recorded a treatment")
        CORRECT = "correct", _("Corrected a record")
        ASSIGN = "assign", _("Assigned a doctor")
        UNASSIGN = "unassign", _("Unassigned a doctor")
        BREAK_GLASS = "break_glass", _("Break-glass access")
        BREAK_GLASS_REVIEW = "break_glass_review", _("Reviewed a break-glass access")
        FOLLOW_UP_DONE = "follow_up_done", _("Settled a follow-up")
        BOOK = "book", _("Booked an appointment")
        CANCEL = "cancel", _("Cancelled an appointment")
        RESCHEDULE = "reschedule", _("Moved an appointment")
        CHECK_IN = "check_in", _("Checked a patient in")
        COMPLETE = "complete", _("Completed an appointment")
        NO_SHOW = "no_show", _("Marked a no-show")
        PORTAL_INVITE = "portal_invite", _("Invited to the patient portal")
        PORTAL_INVITE_REVOKE = "portal_invite_revoke", _("Withdrew a portal invitation")
        PORTAL_LINK = "portal_link", _("Linked a portal account")
        PORTAL_UNLINK = "portal_unlink", _("Unlinked a portal account")

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        DENIED = "denied", _("Denied")

    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True)
    actor_name = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    patient_id = models.UUIDField(null=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    break_glass = models.BooleanField(default=False)
    address = models.GenericIPAddressField(null=True)
    detail = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["patient_id", "-id"], name="clinical_audit_patient"),
            models.Index(fields=["actor_id", "-id"], name="clinical_audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_name} at {self.at:%Y-%m-%d %H:%M}"
