"""Onboarding a branch: one service behind the command, the platform API and the admin."""

from __future__ import annotations

import functools
import logging
import re
import zoneinfo
from dataclasses import dataclass
from datetime import time as dt_time
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists

from accounts.audit import security_event_record
from accounts.links import set_password_link
from accounts.models import Role, SecurityEvent, User
from accounts.services import roles_ensure, staff_invite
from core.db import advisory_lock_held, tenant_connection
from core.errors import DomainError
from tenants import schemas_db
from tenants.db_roles import can_create_schemas
from tenants.models import PORTAL_CANCEL_HOURS_MAX, Domain, Hospital, HospitalGroup

logger = logging.getLogger(__name__)

# A slug is a host label and, with '-' as '_', a schema name.
SLUG_PATTERN = re.compile(r"^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = {
    "public",
    "www",
    "api",
    "extensions",
    "admin",
    "static",
    "media",
    "mail",
    "information-schema",
    "pg-catalog",
    "pg-toast",
    "branch-template",
    "platform",  # the platform's own files (logos) sit beside the branches' folders
}


def slug_reserved(slug: str) -> bool:
    """Names of the platform's own (schemas, folders, hosts), including the operators' host when
    it sits under the branches' domain (operators.example.org: no branch may be "operators")."""
    public_host = settings.PUBLIC_HOST or ""
    public_label = public_host.removesuffix(f".{settings.BASE_DOMAIN}")
    return (
        slug in RESERVED_SLUGS
        or slug.startswith("pg-")
        or schema_name_for(slug) == settings.TENANT_TEMPLATE_SCHEMA
        or (public_label != public_host and slug == public_label)
    )


@functools.cache
def _time_zones() -> frozenset[str]:
    # Reads the zone database from disk: once per process is enough.
    return frozenset(zoneinfo.available_timezones())


# An onboarding holds this lock (with the branch's id) from its claim to its end; the reaper
# skips a branch whose lock is held, so a slow onboarding is never removed from under itself.
_ONBOARDING_LOCK_CLASS = 7306


@dataclass(frozen=True)
class OnboardedBranch:
    hospital: Hospital
    admin: User
    set_password_link: str
    schema_method: str


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")


def branch_settings_validate(*, country: str, time_zone: str, languages: list[str]) -> None:
    """What a branch's country, time zone and languages may be (at onboarding and on change)."""
    if country.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise DomainError.invalid("country", _("Unknown country code; use ISO 3166, such as GB or IN."))
    if settings.ALLOWED_COUNTRIES and country.upper() not in settings.ALLOWED_COUNTRIES:
        raise DomainError.invalid(
            "country",
            _("This deployment keeps its data in %(countries)s only: a branch elsewhere needs its own.")
            % {"countries": ", ".join(settings.ALLOWED_COUNTRIES)},
            code="country_not_allowed",
        )
    if time_zone not in _time_zones():
        raise DomainError.invalid("time_zone", _("Unknown time zone; use a name such as Europe/London."))
    known_languages = dict(settings.LANGUAGES)
    for language in languages:
        if language not in known_languages:
            raise DomainError.invalid("languages", _("Unknown language: %(code)s.") % {"code": language})


def onboarding_normalise(
    *, slug: str, country: str, languages: list[str] | None, mrn_prefix: str
) -> tuple[str, str, list[str], str]:
    slug = (slug or "").strip().lower()
    mrn_prefix = (mrn_prefix or slug.replace("-", "")[:4]).strip().upper()
    return slug, (country or "").strip().upper(), languages or ["en"], mrn_prefix


def onboarding_validate(
    *,
    name: str,
    slug: str,
    country: str,
    time_zone: str,
    languages: list[str],
    admin_email: str,
    mrn_prefix: str,
    group_name: str = "",
    admin_name: str = "",
    address: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> None:
    """Refuse bad input before anything is made (the command and the admin come here unchecked)."""
    limits = {
        "group": (group_name, 200),
        "name": (name, 200),
        "admin_name": (admin_name, 200),
        "admin_email": (admin_email, 150),
        "address": (address, 2000),
        "contact_phone": (contact_phone, 32),
        "contact_email": (contact_email, 254),
    }
    for field, (value, limit) in limits.items():
        if len(value) > limit:
            raise DomainError.invalid(field, _("At most %(limit)d characters.") % {"limit": limit})
        if "\x00" in value:
            raise DomainError.invalid(field, _("Remove the NUL character."))
    if not name.strip():
        raise DomainError.invalid("name", _("Give the branch a name."))
    if not SLUG_PATTERN.match(slug):
        raise DomainError.invalid(
            "slug", _("Use 1 to 40 lower-case letters, digits and hyphens, starting with a letter.")
        )
    if slug_reserved(slug):
        raise DomainError.invalid("slug", _("That name is reserved; choose another."), code="reserved")
    branch_settings_validate(country=country, time_zone=time_zone, languages=languages)
    if not re.fullmatch(r"[A-Z0-9]{1,8}", mrn_prefix):
        raise DomainError.invalid("mrn_prefix", _("Use 1 to 8 capital letters or digits."))

    for field, email in (("admin_email", admin_email), ("contact_email", contact_email)):
        if field == "contact_email" and not email:
            continue
        try:
            validate_email(email)
        except ValidationError as exc:
            raise DomainError.invalid(field, _("Enter a valid e-mail address.")) from exc


def hospital_onboard(
    *,
    group_name: str,
    name: str,
    slug: str,
    country: str,
    time_zone: str,
    admin_email: str,
    languages: list[str] | None = None,
    mrn_prefix: str = "",
    address: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    admin_name: str = "",
) -> OnboardedBranch:
    """Create a branch: its row and domain, its schema, its roles and first admin, then mark it
    ready. Any failure removes what was made: a branch is either ready or gone."""
    slug, country, languages, mrn_prefix = onboarding_normalise(
        slug=slug, country=country, languages=languages, mrn_prefix=mrn_prefix
    )
    onboarding_validate(
        group_name=group_name,
        admin_name=admin_name,
        address=address,
        contact_phone=contact_phone,
        contact_email=contact_email,
        name=name,
        slug=slug,
        country=country,
        time_zone=time_zone,
        languages=languages,
        admin_email=admin_email,
        mrn_prefix=mrn_prefix,
    )
    domain_name = f"{slug}.{settings.BASE_DOMAIN}"
    if not can_create_schemas():
        raise DomainError.conflict(
            _(
                "This server connects to the database as the application role, which cannot create a "
                "branch's schema. Onboard on the platform operators' host, or with manage.py onboard_branch "
                "run as the database's owner."
            ),
            code="onboarding_needs_owner_role",
        )

    with schema_context("public"):
        hospital = _claim(
            group_name=group_name,
            name=name,
            slug=slug,
            country=country,
            time_zone=time_zone,
            languages=languages,
            mrn_prefix=mrn_prefix,
            address=address,
            contact_phone=contact_phone,
            contact_email=contact_email,
            domain_name=domain_name,
        )
        # Held on a connection of its own until the branch is ready or removed: the reaper
        # leaves a branch alone while its onboarding holds this.
        with advisory_lock_held(_ONBOARDING_LOCK_CLASS, hospital.pk):
            try:
                method = schemas_db.branch_schema_create(hospital.schema_name)
                with schema_context(hospital.schema_name):
                    tenant_connection().set_tenant(hospital)
                    with transaction.atomic():
                        roles_ensure()
                        admin = staff_invite(
                            email=admin_email, role=Role.HOSPITAL_ADMIN, full_name=admin_name, invited_by=None
                        )
                    link = set_password_link(admin)
                Hospital.objects.filter(pk=hospital.pk).update(ready=True)
                hospital.ready = True
            except schemas_db.SchemaExistsError as exc:  # made by someone else since the claim: not ours
                branch_remove(hospital, drop_schema=False)
                raise DomainError.conflict(_("A schema of that name exists already."), field="slug") from exc
            except BaseException:
                logger.exception("onboarding %s failed; removing what was made", slug)
                branch_remove(hospital)
                raise
    logger.info("branch %s ready (%s)", slug, method)
    return OnboardedBranch(hospital=hospital, admin=admin, set_password_link=link, schema_method=method)


def _claim(*, group_name: str, domain_name: str, **fields) -> Hospital:
    """Write the branch's row and domain, not ready yet. The unique constraints decide between
    two onboardings of the same slug at once."""
    schema = schema_name_for(fields["slug"])
    try:
        with transaction.atomic():
            group, _created = HospitalGroup.objects.get_or_create(name=group_name.strip() or fields["name"])
            if (
                Hospital.objects.filter(slug=fields["slug"]).exists()
                or Hospital.objects.filter(schema_name=schema).exists()
            ):
                raise DomainError.conflict(_("That slug is taken."), field="slug")
            if Domain.objects.filter(domain=domain_name).exists():
                raise DomainError.conflict(_("That host name is taken."), field="slug")
            # A schema without a branch (left by hand, or by another tool) is never overwritten,
            # and never dropped by a failed onboarding.
            if schema_exists(schema):
                raise DomainError.conflict(_("A schema of that name exists already."), field="slug")
            hospital = Hospital.objects.create(group=group, schema_name=schema, ready=False, **fields)
            Domain.objects.create(domain=domain_name, tenant=hospital, is_primary=True)
    except (IntegrityError, ValidationError) as exc:
        # The unique constraints, or django-tenants' own check of the schema name on save, when
        # another onboarding of the same slug got there first.
        raise DomainError.conflict(_("That slug is taken."), field="slug") from exc
    return hospital


def branch_remove(hospital: Hospital, *, drop_schema: bool = True) -> None:
    """Drop a branch's schema, domain and row (a failed or abandoned onboarding)."""
    with schema_context("public"):
        if drop_schema:
            schemas_db.branch_schema_drop(hospital.schema_name)
        from workers.models import OutboxMessage

        OutboxMessage.objects.filter(schema_name=hospital.schema_name, sent_at__isnull=True).delete()
        Domain.objects.filter(tenant_id=hospital.pk).delete()
        Hospital.objects.filter(pk=hospital.pk).delete()


def branches_reap(*, older_than: timedelta = timedelta(minutes=10)) -> list[str]:
    """Remove branches left not ready by a crash. Returns their slugs."""
    cutoff = timezone.now() - older_than
    removed = []
    with schema_context("public"):
        for hospital in Hospital.objects.filter(ready=False, created_at__lt=cutoff):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_ONBOARDING_LOCK_CLASS, hospital.pk])
                    if not cursor.fetchone()[0]:
                        logger.info("branch %s is still being onboarded; left alone", hospital.slug)
                        continue
                # It may have become ready between the list and the lock.
                if not Hospital.objects.select_for_update().filter(pk=hospital.pk, ready=False).exists():
                    continue
                logger.warning("removing branch %s, left not ready since %s", hospital.slug, hospital.created_at)
                branch_remove(hospital)
                removed.append(hospital.slug)
    return removed


# --- a branch's own settings, set by its admins -----------------------------------------------

REMINDER_OFFSETS_MAX = 4
REMINDER_OFFSET_MINUTES = (15, 14 * 24 * 60)  # from a quarter of an hour to two weeks before
SMS_TEMPLATE_KINDS = ("reminder", "confirmation")
_SMS_SENDER = re.compile(r"^[A-Za-z0-9]{1,11}$|^\+?[0-9]{3,15}$")
_SMS_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


@dataclass(frozen=True)
class BranchMessaging:
    """What a branch's admins decide about reminders, text messages and printing."""

    reminder_offsets_minutes: list[int]
    quiet_hours_start: dt_time
    quiet_hours_end: dt_time
    sms_sender_id: str
    sms_template_ids: dict[str, str]
    desk_prints_prescriptions: bool
    portal_cancel_hours: int
    portal_names_staff: bool


def branch_messaging_update(
    *, hospital: Hospital, messaging: BranchMessaging, changed_by: User, request: HttpRequest | None = None
) -> Hospital:
    """Save the branch's reminder offsets, quiet hours, SMS sender and template ids, whether the
    desk prints prescriptions, and the portal's cancellation cut-off and staff names; a security
    event names what changed. Nothing is saved if any value is refused (422 on its field)."""
    errors = []
    offsets = messaging.reminder_offsets_minutes
    low, high = REMINDER_OFFSET_MINUTES
    if len(offsets) > REMINDER_OFFSETS_MAX:
        errors.append(("reminder_offsets", _("At most %(n)d reminders a visit.") % {"n": REMINDER_OFFSETS_MAX}))
    elif any(not low <= minutes <= high for minutes in offsets):
        errors.append(("reminder_offsets", _("Each reminder goes between 15 minutes and 14 days before the visit.")))
    elif len(set(offsets)) != len(offsets):
        errors.append(("reminder_offsets", _("The same time is given twice.")))
    if messaging.sms_sender_id and not _SMS_SENDER.match(messaging.sms_sender_id):
        errors.append(("sms_sender_id", _("Up to 11 letters and digits, or a phone number.")))
    for kind, template_id in messaging.sms_template_ids.items():
        if kind not in SMS_TEMPLATE_KINDS:
            errors.append((f"sms_template_{kind}", _("Unknown kind of message.")))
        elif template_id and not _SMS_TEMPLATE_ID.match(template_id):
            errors.append((f"sms_template_{kind}", _("Up to 40 letters, digits, dots, dashes or underscores.")))
    if not 0 <= messaging.portal_cancel_hours <= PORTAL_CANCEL_HOURS_MAX:
        errors.append(("portal_cancel_hours", _("Between 0 and %(n)d hours.") % {"n": PORTAL_CANCEL_HOURS_MAX}))
    if errors:
        raise DomainError.invalid_fields(errors)
    values = {
        "reminder_offsets_minutes": sorted(offsets, reverse=True),
        "quiet_hours_start": messaging.quiet_hours_start,
        "quiet_hours_end": messaging.quiet_hours_end,
        "sms_sender_id": messaging.sms_sender_id,
        "sms_template_ids": {kind: value for kind, value in messaging.sms_template_ids.items() if value},
        "desk_prints_prescriptions": messaging.desk_prints_prescriptions,
        "portal_cancel_hours": messaging.portal_cancel_hours,
        "portal_names_staff": messaging.portal_names_staff,
    }
    return _settings_save(hospital=hospital, values=values, changed_by=changed_by, request=request)


QUEUE_KINDS = ("booked", "walk_in", "late")
# Up to three letters, digits or dashes, not ending in a digit: "1" and 12 would read as 112.
_TOKEN_PREFIX = re.compile(r"^([A-Za-z0-9-]{0,2}[A-Za-z-])?$")
# Two kinds numbered with one prefix keep apart if their first numbers are this far apart.
QUEUE_RANGE_GAP = 100


@dataclass(frozen=True)
class BranchQueue:
    """What a branch's admins decide about the front desk's queue."""

    tokens: dict[str, tuple[str, int]]  # kind → (prefix, first number)
    order: str
    late_rule: str
    late_minutes: int
    wait_alert_minutes: int


def branch_queue_update(
    *, hospital: Hospital, rules: BranchQueue, changed_by: User, request: HttpRequest | None = None
) -> Hospital:
    """Save how the branch numbers its queue tokens and orders its queue; a security event names
    what changed. Nothing is saved if any value is refused (422 on its field)."""
    errors = []
    for kind in QUEUE_KINDS:
        prefix, start = rules.tokens.get(kind, ("", -1))
        if not _TOKEN_PREFIX.match(prefix):
            errors.append((f"token_prefix_{kind}", _("Up to 3 letters, digits or dashes, ending in a letter or dash.")))
        if not 0 <= start <= 9999:
            errors.append((f"token_start_{kind}", _("A number from 0 to 9999.")))
    for first, second in ((0, 1), (0, 2), (1, 2)):
        (p1, s1), (p2, s2) = (
            rules.tokens.get(QUEUE_KINDS[first], ("", 0)),
            rules.tokens.get(QUEUE_KINDS[second], ("", 0)),
        )
        if p1.upper() == p2.upper() and abs(s1 - s2) < QUEUE_RANGE_GAP and not errors:
            errors.append(
                (
                    f"token_start_{QUEUE_KINDS[second]}",
                    _("With the same prefix, start %(gap)d apart, or give each kind its own prefix.")
                    % {"gap": QUEUE_RANGE_GAP},
                )
            )
    if rules.order not in dict(Hospital._meta.get_field("queue_order").choices):  # type: ignore[arg-type]
        errors.append(("queue_order", _("Choose one of the orders.")))
    if rules.late_rule not in dict(Hospital._meta.get_field("queue_late_rule").choices):  # type: ignore[arg-type]
        errors.append(("queue_late_rule", _("Choose where late arrivals go.")))
    if not 0 <= rules.late_minutes <= 240:
        errors.append(("queue_late_minutes", _("From 0 to 240 minutes.")))
    if not 1 <= rules.wait_alert_minutes <= 600:
        errors.append(("queue_wait_alert_minutes", _("From 1 to 600 minutes.")))
    if errors:
        raise DomainError.invalid_fields(errors)
    values = {
        "queue_tokens": {
            kind: {"prefix": rules.tokens[kind][0], "start": rules.tokens[kind][1]} for kind in QUEUE_KINDS
        },
        "queue_order": rules.order,
        "queue_late_rule": rules.late_rule,
        "queue_late_minutes": rules.late_minutes,
        "queue_wait_alert_minutes": rules.wait_alert_minutes,
    }
    return _settings_save(hospital=hospital, values=values, changed_by=changed_by, request=request)


def _settings_save(*, hospital: Hospital, values: dict, changed_by: User, request: HttpRequest | None) -> Hospital:
    with transaction.atomic():
        current = Hospital.objects.select_for_update().get(pk=hospital.pk)
        changed = {
            name: [str(getattr(current, name)), str(value)]
            for name, value in values.items()
            if getattr(current, name) != value
        }
        if not changed:
            return current
        for name, value in values.items():
            setattr(current, name, value)
        current.save(update_fields=list(values))
        security_event_record(
            kind=SecurityEvent.Kind.SETTINGS_CHANGED, request=request, actor=changed_by, changed=changed
        )
    return current
