from __future__ import annotations

import datetime as dt

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class HospitalGroup(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("hospital group")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def platform_storage() -> Storage:
    """Files of the platform itself (branch logos), whatever branch a request is in: the
    ``platform`` storage of ``STORAGES``."""
    return storages["platform"]


LOGO_MAX_BYTES = 1024 * 1024
PORTAL_CANCEL_HOURS_MAX = 7 * 24


def logo_size_check(file) -> None:
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(_("A logo is at most 1 MB."))


def default_queue_tokens() -> dict[str, dict]:
    """Each kind of arrival numbered on its own, told apart by a prefix: B1, W1, L1."""
    return {
        "booked": {"prefix": "B", "start": 1},
        "walk_in": {"prefix": "W", "start": 1},
        "late": {"prefix": "L", "start": 1},
    }


def default_reminder_offsets() -> list[int]:
    """A day before and two hours before."""
    return [24 * 60, 2 * 60]


class Hospital(TenantMixin):
    """A branch: one PostgreSQL schema, reached at its own host name."""

    # Schemas are made by tenants.services.hospital_onboard (clone or migrate, with clean-up).
    auto_create_schema = False
    auto_drop_schema = False

    group = models.ForeignKey(HospitalGroup, on_delete=models.PROTECT, related_name="hospitals")
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=40, unique=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code; the default for phone numbers."))
    time_zone = models.CharField(_("time zone"), max_length=64)
    languages = ArrayField(models.CharField(max_length=10), default=list, verbose_name=_("languages"))
    address = models.TextField(_("address"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    mrn_prefix = models.CharField(_("MRN prefix"), max_length=8)
    break_glass_hours = models.PositiveSmallIntegerField(
        _("break-glass access (hours)"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(72)],
        help_text=_("How long a doctor's emergency access to an unassigned patient lasts."),
    )
    # Printed on prescriptions; kept outside every branch's folder (the platform's storage).
    logo = models.ImageField(
        _("logo"),
        upload_to="branch-logos/",
        blank=True,
        storage=platform_storage,
        validators=[logo_size_check],
        help_text=_("PNG or JPEG, at most 1 MB."),
    )
    desk_prints_prescriptions = models.BooleanField(
        _("receptionists print prescriptions"),
        default=False,
        help_text=_("Whether the front desk may open and print prescription PDFs (doctors and admins always may)."),
    )
    reminder_offsets_minutes = ArrayField(
        models.PositiveIntegerField(),
        default=default_reminder_offsets,
        verbose_name=_("reminder offsets (minutes before the visit)"),
    )
    quiet_hours_start = models.TimeField(
        _("quiet hours start"), default=dt.time(21), help_text=_("No reminder is sent from this time…")
    )
    quiet_hours_end = models.TimeField(_("quiet hours end"), default=dt.time(8), help_text=_("…until this time."))
    # What national SMS rules ask of a sender (e.g. India's DLT): the registered sender and templates.
    sms_sender_id = models.CharField(_("SMS sender id"), max_length=20, blank=True)
    sms_template_ids = models.JSONField(_("SMS template ids"), default=dict, blank=True)
    # The patient portal (portal/): how late a patient may cancel there, and whether a patient's
    # access log names the staff who opened the record or only their role.
    portal_cancel_hours = models.PositiveSmallIntegerField(
        _("portal cancellation cut-off (hours)"),
        default=24,
        validators=[MaxValueValidator(PORTAL_CANCEL_HOURS_MAX)],
        help_text=_("Patients may cancel a visit in the portal up to this many hours before it; 0: until it starts."),
    )
    # The front desk's queue (scheduling/queue.py): how tokens are numbered for each kind of
    # arrival, the order "call next" follows, where a late arrival goes, and when a wait shows red.
    queue_tokens = models.JSONField(_("queue tokens"), default=default_queue_tokens, blank=True)
    queue_order = models.CharField(
        _("queue order"),
        max_length=16,
        choices=[
            ("booked_first", _("Booked patients at their time first, then walk-ins as they came")),
            ("arrival", _("Strictly as they came")),
        ],
        default="booked_first",
    )
    queue_late_rule = models.CharField(
        _("late arrivals"),
        max_length=8,
        choices=[("next", _("Next, after the patient being seen")), ("end", _("At the end of the queue"))],
        default="end",
    )
    queue_late_minutes = models.PositiveSmallIntegerField(
        _("late after (minutes)"), default=15, validators=[MaxValueValidator(240)]
    )
    queue_wait_alert_minutes = models.PositiveSmallIntegerField(
        _("long wait (minutes)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    portal_names_staff = models.BooleanField(
        _("patients see staff names"),
        default=False,
        help_text=_("Whether a patient's access log names who opened the record, or only their role."),
    )
    # A branch answers requests only once onboarding has finished; see services.hospital_onboard.
    ready = models.BooleanField(_("ready"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("hospital branch")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else "en"


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
