"""Doctors' profiles, working hours and leave, and appointments. Two appointments of one doctor,
or of one patient, never overlap: the database refuses it (exclusion constraints), whatever the
timing of the requests."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _

from clinical.models import USER_KEPT, Patient, Treatment


class DoctorProfile(models.Model):
    """What a doctor's user account does not say: printed on prescriptions, shown to patients."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="doctor_profile")
    specialty = models.CharField(_("specialty"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    qualifications = models.CharField(_("qualifications"), max_length=200, blank=True)
    registration_number = models.CharField(_("professional registration number"), max_length=50, blank=True)
    room = models.CharField(_("consulting room"), max_length=50, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class WorkingHours(models.Model):
    """One interval of a doctor's week, in the branch's time zone (several a day are allowed)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(starts__lt=F("ends")), name="scheduling_hours_start_before_end"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="scheduling_hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class Leave(models.Model):
    """Time a doctor does not see patients: leave, a meeting, a blocked afternoon."""

    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=USER_KEPT, related_name="+")

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["doctor", "starts_at"], name="scheduling_leave_doctor")]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="scheduling_leave_start_before_end"),
        ]

    def __str__(self) -> str:
        return f"leave of {self.doctor_id} from {self.starts_at:%Y-%m-%d %H:%M}"


# Written as ORs, not IN: PostgreSQL prints an IN over a parameter array back in a form that a
# dump and restore changes, and a cloned branch must have exactly the migrated definition.
ACTIVE_CONDITION = Q(status="booked") | Q(status="checked_in")


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CHECKED_IN = "checked_in", _("Checked in")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    # The statuses that hold a place in the doctor's day and the patient's.
    ACTIVE = (Status.BOOKED, Status.CHECKED_IN)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    # A deliberate second patient in a taken slot: outside the doctor's exclusion constraint.
    overbooked = models.BooleanField(default=False)
    # Staff's reason for breaking a rule (outside hours, off the grid, overbooking, back-entry).
    override_reason = models.CharField(max_length=300, blank=True)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=USER_KEPT, related_name="+")
    booked_at = models.DateTimeField(auto_now_add=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the patient was told the visit is booked (once: a re-delivered task sends nothing).
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start"]
        indexes = [
            models.Index(fields=["doctor", "start"], name="scheduling_appt_doctor_day"),
            models.Index(fields=["patient", "-start"], name="scheduling_appt_patient"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="scheduling_appt_start_before_end"),
            ExclusionConstraint(
                name="scheduling_appt_doctor_no_overlap",
                expressions=[(TsTzRange("start", "end"), RangeOperators.OVERLAPS), ("doctor", RangeOperators.EQUAL)],
                condition=Q(overbooked=False) & ACTIVE_CONDITION,
            ),
            ExclusionConstraint(
                name="scheduling_appt_patient_no_overlap",
                expressions=[(TsTzRange("start", "end"), RangeOperators.OVERLAPS), ("patient", RangeOperators.EQUAL)],
                condition=ACTIVE_CONDITION,
            ),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk} at {self.start:%Y-%m-%d %H:%M}"


class IdempotentRequest(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key``, kept so that a retry gets
    it again instead of doing the work twice. Written in the transaction that does the work: a
    request that crashes leaves no row, so its key is free for the retry."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    key = models.CharField(max_length=200)
    # What the request asked (route and body): the same key with another body is a client's mistake.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="scheduling_idempotency_user_key")]

    def __str__(self) -> str:
        return f"idempotency key of {self.user_id}"


class ReminderSend(models.Model):
    """One reminder of one visit, at one offset, by one channel: made once (the unique
    constraint), sent once (its row is locked while it is sent). A visit moved or cancelled
    after it was made gets it skipped, never a stale time."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To send")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    offset_minutes = models.PositiveIntegerField()
    channel = models.CharField(max_length=10)
    # The visit's start the reminder was made for: a moved visit's reminder is stale.
    for_start = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "offset_minutes", "channel"], name="scheduling_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.offset_minutes} min before {self.appointment_id} by {self.channel}"


class QueueEntry(models.Model):
    """A visit of the day in a doctor's queue: a booked appointment once the patient is checked
    in, or a walk-in at once (its appointment is made then). Its token is numbered per doctor,
    session (a working interval of the day) and kind, so booked, walk-in and late patients can be
    told apart by range or prefix; the database refuses two entries with one token."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("Booked")
        WALK_IN = "walk_in", _("Walk-in")
        LATE = "late", _("Late")

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        CALLED = "called", _("Called")
        WITH_DOCTOR = "with_doctor", _("With the doctor")
        DONE = "done", _("Seen")
        LEFT = "left", _("Left without being seen")
        SKIPPED = "skipped", _("Skipped")

    # Still in the queue: what the desk and the board show, what "call next" looks at.
    OPEN = (State.WAITING, State.CALLED, State.WITH_DOCTOR, State.SKIPPED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="queue_entry")
    # The appointment's, kept here for the queue's queries (a walk-in's doctor does not change).
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="queue_entries")
    day = models.DateField()  # in the branch's time zone
    session_start = models.TimeField()  # the working interval the token belongs to
    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.PositiveIntegerField()
    token = models.CharField(max_length=16)
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    arrived_at = models.DateTimeField()
    called_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # seen, or left without being seen

    class Meta:
        ordering = ["day", "session_start", "arrived_at"]
        indexes = [models.Index(fields=["doctor", "day", "state"], name="scheduling_queue_doctor_day")]
        constraints = [
            models.UniqueConstraint(fields=["doctor", "day", "session_start", "token"], name="scheduling_queue_token"),
        ]

    def __str__(self) -> str:
        return f"token {self.token} of {self.doctor_id} on {self.day}"


class QueueCounter(models.Model):
    """The last token number given per doctor, day, session and kind: taken by one UPDATE
    (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), so two desks at once never get one number."""

    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="+")
    day = models.DateField()
    session_start = models.TimeField()
    kind = models.CharField(max_length=10, choices=QueueEntry.Kind.choices)
    last = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "day", "session_start", "kind"], name="scheduling_queue_counter_once"
            ),
        ]

    def __str__(self) -> str:
        return f"last {self.kind} token {self.last} of {self.doctor_id} on {self.day}"


class QueueEvent(models.Model):
    """Each change of an entry's state, timed, and who made it."""

    entry = models.ForeignKey(QueueEntry, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=12, choices=QueueEntry.State.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=USER_KEPT, related_name="+")

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.state} at {self.at:%H:%M:%S}"
