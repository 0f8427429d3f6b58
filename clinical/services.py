"""Every clinical write and its rules: registration, demographics, assignment, break-glass, the
treatments catalogue, treatment records and their corrections, drafts."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import Role, User
from clinical.allergies import allergy_clashes
from clinical.audit import audit_record
from clinical.models import (
    Allergy,
    AllergySeverity,
    AuditEvent,
    BreakGlassAccess,
    ContactChannel,
    Gender,
    IdentifierKind,
    Patient,
    PatientIdentifier,
    Prescription,
    PrescriptionLine,
    RecordDraft,
    Treatment,
    TreatmentRecord,
)
from clinical.normalise import identifier_normalise, name_clean, name_for_search
from clinical.permissions import ATTEND, EDITABLE_FIELDS, deny, doctor_attends
from clinical.validation import Errors, months_before, years_before
from core.branch import branch_current, branch_today
from core.errors import DomainError
from workers.outbox import outbox_enqueue

MAX_AGE_YEARS = 130
# A name this similar (pg_trgm similarity) with the same birth date is a possible duplicate.
DUPLICATE_SIMILARITY = 0.5
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
MAX_PRESCRIPTION_LINES = 30
MAX_DRAFT_BYTES = 64 * 1024
APPOINTMENT_MODEL = "scheduling.Appointment"
PRESCRIPTION_RENDER_TASK = "clinical.render_prescription"  # clinical/tasks.py


# --- patients -------------------------------------------------------------------------------------


@dataclass
class PatientFields:
    """Checked values, ready to store; only those present in the request are set."""

    values: dict[str, Any] = field(default_factory=dict)
    identifiers: list[tuple[str, str]] | None = None
    allergies: list[dict[str, str]] | None = None


def _birth_date(errors: Errors, data: dict[str, Any], today: dt.date) -> tuple[dt.date | None, bool]:
    """A date of birth, or one estimated from an age in years, months or days."""
    if data.get("date_of_birth") not in (None, ""):
        born = errors.date("date_of_birth", data["date_of_birth"])
        if born is None:
            return None, False
        if born > today:
            errors.add("date_of_birth", _("The date of birth is in the future."))
            return None, False
        if born < years_before(today, MAX_AGE_YEARS):
            errors.add("date_of_birth", _("The date of birth is more than %(n)d years ago.") % {"n": MAX_AGE_YEARS})
            return None, False
        return born, False
    age = data.get("age")
    if not isinstance(age, dict):
        errors.add("date_of_birth", _("Give a date of birth or an age."))
        return None, False
    unit = age.get("unit", "years")
    limits = {"years": MAX_AGE_YEARS, "months": 24 * 12, "days": 366}
    if unit not in limits:
        errors.add("age.unit", _("Must be one of: years, months, days."))
        return None, False
    value = errors.integer("age.value", age.get("value"), low=0, high=limits[unit])
    if value is None:
        return None, False
    if unit == "years":
        return years_before(today, value), True
    if unit == "months":
        return months_before(today, value), True
    return today - timedelta(days=value), True


def _patient_fields_check(data: dict[str, Any], *, creating: bool, current: Patient | None = None) -> PatientFields:
    errors = Errors()
    branch = branch_current()
    today = branch_today()
    out = PatientFields()
    values = out.values

    if creating or "full_name" in data or "description" in data:
        name = name_clean(errors.text("full_name", data.get("full_name"), max_length=200))
        description = errors.text("description", data.get("description"), max_length=500)
        if name:
            values.update(full_name=name, unidentified=False, name_search=name_for_search(name))
            if "description" in data:
                values["description"] = description
        elif description and (creating or (current is not None and current.unidentified)):
            values.update(full_name="", unidentified=True, description=description, name_search="")
        elif not any(field == "full_name" for field, _m in errors.items):
            errors.add("full_name", _("A name is required (or, for an unidentified patient, a description)."))
    if creating or "gender" in data:
        values["gender"] = errors.choice("gender", data.get("gender"), Gender)
    if creating or "date_of_birth" in data or "age" in data:
        born, estimated = _birth_date(errors, data, today)
        if born is not None:
            values.update(date_of_birth=born, date_of_birth_estimated=estimated)
    if "phone" in data:
        values["phone"] = errors.phone("phone", data["phone"], region=branch.country)
    if "email" in data:
        values["email"] = errors.email("email", data["email"])
    if "address" in data:
        values["address"] = errors.text("address", data["address"], max_length=500)
    if "contact" in data:
        contact = data["contact"] or {}
        if not isinstance(contact, dict):
            errors.add("contact", _("Must be an object with name, relation and phone."))
        else:
            values["contact_name"] = name_clean(errors.text("contact.name", contact.get("name"), max_length=200))
            values["contact_relation"] = errors.text("contact.relation", contact.get("relation"), max_length=50)
            values["contact_phone"] = errors.phone("contact.phone", contact.get("phone"), region=branch.country)
    if "reminders" in data:
        values.update(_reminders_check(errors, data["reminders"]))
    if "medical_history" in data:
        history = data["medical_history"] or {}
        if not isinstance(history, dict):
            errors.add("medical_history", _("Must be an object."))
        else:
            for key, column in (
                ("chronic_conditions", "chronic_conditions"),
                ("current_medication", "current_medication"),
                ("notes", "history_notes"),
            ):
                if key in history or current is None:
                    values[column] = errors.text(f"medical_history.{key}", history.get(key), max_length=5000)
    if "identifiers" in data:
        out.identifiers = _identifiers_check(errors, data["identifiers"])
    if "allergies" in data:
        out.allergies = _allergies_check(errors, data["allergies"])
    errors.raise_if_any()
    return out


def _reminders_check(errors: Errors, given: Any) -> dict[str, Any]:
    """How the patient hears from the branch: {"channel": "sms"|"email", "language": "", "opt_out": bool}."""
    if not isinstance(given, dict):
        errors.add("reminders", _("Must be an object with channel, language and opt_out."))
        return {}
    values: dict[str, Any] = {}
    if "channel" in given:
        values["contact_channel"] = errors.choice("reminders.channel", given.get("channel"), ContactChannel)
    if "language" in given:
        language = given.get("language") or ""
        known = dict(settings.LANGUAGES)
        if not isinstance(language, str) or (language and language not in known):
            errors.add("reminders.language", _("Must be one of: %(choices)s.") % {"choices": ", ".join(known)})
        values["preferred_language"] = language if isinstance(language, str) else ""
    if "opt_out" in given:
        if not isinstance(given.get("opt_out"), bool):
            errors.add("reminders.opt_out", _("Must be true or false."))
        values["reminders_opt_out"] = given.get("opt_out") is True
    return values


def _identifiers_check(errors: Errors, items: Any) -> list[tuple[str, str]]:
    if not isinstance(items, list) or len(items) > 10:
        errors.add("identifiers", _("A list of at most 10 identifiers."))
        return []
    checked: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        kind = errors.choice(f"identifiers.{i}.type", item.get("type"), IdentifierKind)
        value = errors.text(f"identifiers.{i}.value", item.get("value"), max_length=64, required=True)
        if kind and value:
            if not identifier_normalise(value):
                errors.add(f"identifiers.{i}.value", _("This field is required."))
            elif len(identifier_normalise(value)) > 64:  # upper-casing can lengthen it ("ß" → "SS")
                errors.add(f"identifiers.{i}.value", _("At most %(n)d characters.") % {"n": 64})
            elif any(k == kind and identifier_normalise(v) == identifier_normalise(value) for k, v in checked):
                errors.add(f"identifiers.{i}.value", _("The same identifier is listed twice."))
            else:
                checked.append((kind, value))
    return checked


def _allergies_check(errors: Errors, items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list) or len(items) > 50:
        errors.add("allergies", _("A list of at most 50 allergies."))
        return []
    checked: list[dict[str, str]] = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {"substance": item} if isinstance(item, str) else {}
        substance = errors.text(f"allergies.{i}.substance", item.get("substance"), max_length=100, required=True)
        reaction = errors.text(f"allergies.{i}.reaction", item.get("reaction"), max_length=200)
        severity = errors.choice(
            f"allergies.{i}.severity", item.get("severity") or AllergySeverity.UNKNOWN, AllergySeverity
        )
        if substance and any(a["substance"].casefold() == substance.casefold() for a in checked):
            errors.add(f"allergies.{i}.substance", _("The same allergy is listed twice."))
        elif substance:
            checked.append({"substance": substance, "reaction": reaction, "severity": severity})
    return checked


def _candidate(patient: Patient) -> dict[str, Any]:
    return {
        "id": str(patient.pk),
        "mrn": patient.mrn,
        "full_name": patient.display_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
    }


def patient_duplicates(*, name_search: str, date_of_birth: dt.date, exclude: uuid.UUID | None = None) -> list[Patient]:
    """Patients born the same day with a similar name: what the front desk should check first."""
    if not name_search:
        return []
    candidates = Patient.objects.filter(date_of_birth=date_of_birth)
    if exclude is not None:
        candidates = candidates.exclude(pk=exclude)
    return list(
        candidates.annotate(similarity=TrigramSimilarity("name_search", name_search))
        .filter(Q(similarity__gte=DUPLICATE_SIMILARITY) | Q(name_search=name_search))
        .order_by("-similarity")[:10]
    )


def _identifier_owners(identifiers: list[tuple[str, str]], exclude: uuid.UUID | None = None) -> list[Patient]:
    match = Q(pk__in=[])
    for kind, value in identifiers:
        match |= Q(identifiers__kind=kind, identifiers__value_normalised=identifier_normalise(value))
    owners = Patient.objects.filter(match)
    if exclude is not None:
        owners = owners.exclude(pk=exclude)
    return list(owners.distinct()[:10])


def _duplicates_refuse(fields: PatientFields, *, confirm_new: bool, current: Patient | None = None) -> None:
    exclude = current.pk if current else None
    if fields.identifiers:
        owners = _identifier_owners(fields.identifiers, exclude)
        if owners:
            raise DomainError.conflict(
                _("This identifier already belongs to another patient."),
                code="identifier_taken",
                field="identifiers",
                extra={"candidates": [_candidate(p) for p in owners]},
            )
    if confirm_new:
        return
    name_search = fields.values.get("name_search", current.name_search if current else "")
    born = fields.values.get("date_of_birth", current.date_of_birth if current else None)
    if ("name_search" in fields.values or "date_of_birth" in fields.values) and born is not None:
        similar = patient_duplicates(name_search=name_search, date_of_birth=born, exclude=exclude)
        if similar:
            raise DomainError.conflict(
                _(
                    "A patient with a similar name and the same date of birth exists. Open them, or confirm "
                    "that this is someone else."
                ),
                code="possible_duplicate",
                extra={"candidates": [_candidate(p) for p in similar]},
            )


# Registrations hold the MRN lock shared (many at once); moving the sequence holds it alone, so
# no registration takes a number between the check and the move.
_MRN_LOCK_CLASS = 7311
# Registrations of people born the same day queue behind each other, so that two desks
# registering one person at the same moment see each other's row in the duplicate check.
_BIRTH_DAY_LOCK_CLASS = 7312


def _branch_lock(lock_class: int, key: str = "", *, shared: bool = False) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, hashtext(current_schema() || %s))", [lock_class, key])


def mrn_next() -> str:
    """The next MRN; inside the registration's transaction."""
    _branch_lock(_MRN_LOCK_CLASS, shared=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('clinical_mrn')")
        number = cursor.fetchone()[0]
    return f"{branch_current().mrn_prefix}{number:06d}"


def mrn_sequence_start(*, next_number: int) -> None:
    """Continue numbering where a previous system stopped. Never below a number already used:
    the sequence only moves forward, so no MRN is ever issued twice."""
    if not 1 <= next_number < 10**12:
        raise DomainError.invalid("next_number", _("Between 1 and 999999999999."))
    with transaction.atomic(), connection.cursor() as cursor:
        _branch_lock(_MRN_LOCK_CLASS)
        cursor.execute("SELECT last_value, is_called FROM clinical_mrn")
        last_value, is_called = cursor.fetchone()
        upcoming = last_value + 1 if is_called else last_value
        if next_number < upcoming:
            raise DomainError.invalid(
                "next_number", _("MRNs up to %(n)d may already be issued; choose %(n)d or more.") % {"n": upcoming}
            )
        cursor.execute("SELECT setval('clinical_mrn', %s, false)", [next_number])


def _children_replace(patient: Patient, fields: PatientFields) -> None:
    if fields.identifiers is not None:
        patient.identifiers.all().delete()
        PatientIdentifier.objects.bulk_create(
            PatientIdentifier(patient=patient, kind=k, value=v, value_normalised=identifier_normalise(v))
            for k, v in fields.identifiers
        )
    if fields.allergies is not None:
        patient.allergies.all().delete()
        Allergy.objects.bulk_create(Allergy(patient=patient, **a) for a in fields.allergies)


@dataclass(frozen=True)
class Registered:
    patient: Patient
    # Others on the same phone number: a family, most likely; shown as a hint, not refused.
    shared_phone: list[Patient]


def patients_sharing_phone(patient: Patient) -> list[Patient]:
    if not patient.phone:
        return []
    return list(Patient.objects.filter(phone=patient.phone).exclude(pk=patient.pk).order_by("full_name")[:20])


def patient_register(
    *, actor: User, data: dict[str, Any], confirm_new: bool = False, address: str | None = None
) -> Registered:
    fields = _patient_fields_check(data, creating=True)
    try:
        with transaction.atomic():
            _branch_lock(_BIRTH_DAY_LOCK_CLASS, fields.values["date_of_birth"].isoformat())
            _duplicates_refuse(fields, confirm_new=confirm_new)
            patient = Patient(mrn=mrn_next(), registered_by=actor, **fields.values)
            patient.save(force_insert=True)
            _children_replace(patient, fields)
            audit_record(actor=actor, action=AuditEvent.Action.REGISTER, patient_id=patient.pk, address=address)
    except IntegrityError as exc:
        raise _integrity_conflict(exc) from exc
    return Registered(patient=patient, shared_phone=patients_sharing_phone(patient))


def _integrity_conflict(exc: IntegrityError) -> DomainError:
    if "clinical_identifier_unique_per_kind" in str(exc):
        return DomainError.conflict(
            _("This identifier already belongs to another patient."), code="identifier_taken", field="identifiers"
        )
    if "clinical_allergy_unique_per_patient" in str(exc):
        # The database's lower-casing and Python's can disagree on a rare letter ("İ").
        return DomainError.invalid("allergies", _("The same allergy is listed twice."))
    raise exc


def patient_update(
    *, actor: User, patient: Patient, data: dict[str, Any], confirm_new: bool = False, address: str | None = None
) -> Patient:
    """Change what ``actor``'s role may change; the caller has checked access to ``patient``."""
    refused = sorted(set(data) - EDITABLE_FIELDS.get(actor.role, frozenset()))
    if refused:
        raise deny(
            user=actor,
            action=AuditEvent.Action.UPDATE,
            patient_id=patient.pk,
            address=address,
            message=_("Your role cannot change: %(fields)s.") % {"fields": ", ".join(refused)},
        )
    fields = _patient_fields_check(data, creating=False, current=patient)
    _duplicates_refuse(fields, confirm_new=confirm_new, current=patient)
    try:
        with transaction.atomic():
            locked = Patient.objects.select_for_update().get(pk=patient.pk)
            for name, value in fields.values.items():
                setattr(locked, name, value)
            locked.save()
            _children_replace(locked, fields)
            audit_record(
                actor=actor, action=AuditEvent.Action.UPDATE, patient_id=locked.pk, address=address, fields=sorted(data)
            )
    except IntegrityError as exc:
        raise _integrity_conflict(exc) from exc
    return locked


# --- assignment and break-glass -------------------------------------------------------------------


def _doctor_check(doctor: User | None) -> User:
    if doctor is None or doctor.role != Role.DOCTOR or not doctor.is_active:
        raise DomainError.invalid("doctor_id", _("Not an active doctor of this branch."))
    return doctor


def patient_assign_doctor(
    *, patient: Patient, doctor: User, actor: User | None = None, address: str | None = None, reason: str = ""
) -> bool:
    """Let ``doctor`` see and treat ``patient`` (a guardian object permission). Called by the
    admin's assignment and by booking. Returns whether anything changed."""
    _doctor_check(doctor)
    with transaction.atomic():
        # Serialise assignments of this patient: two bookings at once must not both insert.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if doctor_attends(doctor, patient):
            return False
        assign_perm(f"clinical.{ATTEND}", doctor, patient)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.ASSIGN,
            patient_id=patient.pk,
            address=address,
            doctor_id=doctor.pk,
            doctor=doctor.full_name or doctor.username,
            reason=reason,
        )
    return True


def patient_unassign_doctor(*, patient: Patient, doctor: User, actor: User, address: str | None = None) -> bool:
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if not doctor_attends(doctor, patient):
            return False
        remove_perm(f"clinical.{ATTEND}", doctor, patient)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.UNASSIGN,
            patient_id=patient.pk,
            address=address,
            doctor_id=doctor.pk,
            doctor=doctor.full_name or doctor.username,
        )
    return True


def break_glass_open(*, doctor: User, patient: Patient, reason: str, address: str | None = None) -> BreakGlassAccess:
    """Emergency access for an unassigned doctor: for the branch's set hours, flagged for review."""
    errors = Errors()
    reason = errors.text("reason", reason, max_length=1000, required=True)
    if reason and len(reason) < 10:
        errors.add("reason", _("Say why, in a few words (at least 10 characters)."))
    errors.raise_if_any()
    if doctor.role != Role.DOCTOR:
        raise DomainError.forbidden(_("Only doctors use break-glass access."))
    hours = branch_current().break_glass_hours
    with transaction.atomic():
        access = BreakGlassAccess.objects.create(
            doctor=doctor, patient=patient, reason=reason, expires_at=timezone.now() + timedelta(hours=hours)
        )
        audit_record(
            actor=doctor,
            action=AuditEvent.Action.BREAK_GLASS,
            patient_id=patient.pk,
            break_glass=True,
            address=address,
            reason=reason,
            hours=hours,
        )
    return access


def break_glass_review(
    *, access: BreakGlassAccess, reviewer: User, note: str = "", address: str | None = None
) -> BreakGlassAccess:
    errors = Errors()
    note = errors.text("note", note, max_length=1000)
    errors.raise_if_any()
    with transaction.atomic():
        locked = BreakGlassAccess.objects.select_for_update().get(pk=access.pk)
        if locked.reviewed_at is not None:
            raise DomainError.conflict(_("This access has been reviewed already."), code="already_reviewed")
        locked.reviewed_by, locked.reviewed_at, locked.review_note = reviewer, timezone.now(), note
        locked.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            actor=reviewer,
            action=AuditEvent.Action.BREAK_GLASS_REVIEW,
            patient_id=locked.patient_id,
            address=address,
            access_id=locked.pk,
            note=note,
        )
    return locked


# --- treatments catalogue ---------------------------------------------------------------------------

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.-]{0,19}$")


def _treatment_check(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    errors = Errors()
    values: dict[str, Any] = {}
    if creating or "name" in data:
        values["name"] = name_clean(errors.text("name", data.get("name"), max_length=120, required=True))
    if creating or "code" in data:
        code = errors.text("code", data.get("code"), max_length=20, required=True).upper()
        if code and not _CODE.match(code):
            errors.add("code", _("Letters, digits, dots and dashes."))
        values["code"] = code
    if creating or "duration_minutes" in data:
        values["duration_minutes"] = errors.integer(
            "duration_minutes", data.get("duration_minutes", 15), low=5, high=480
        )
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors.add("active", _("True or false."))
        values["active"] = bool(data["active"])
    errors.raise_if_any()
    return values


def treatment_save(*, data: dict[str, Any], treatment: Treatment | None = None) -> Treatment:
    values = _treatment_check(data, creating=treatment is None)
    try:
        with transaction.atomic():
            if treatment is None:
                return Treatment.objects.create(**values)
            for name, value in values.items():
                setattr(treatment, name, value)
            treatment.save()
            return treatment
    except IntegrityError as exc:
        if treatment is not None:
            treatment.refresh_from_db()  # the caller's object is not left holding refused values
        if "clinical_treatment_name_unique_ci" in str(exc):
            raise DomainError.conflict(_("Another treatment has this name."), field="name") from exc
        if "code" in str(exc):
            raise DomainError.conflict(_("Another treatment has this code."), field="code") from exc
        raise


# --- treatment records ------------------------------------------------------------------------------


@dataclass
class RecordFields:
    values: dict[str, Any]
    lines: list[dict[str, str]]


def _record_check(data: dict[str, Any], patient: Patient) -> RecordFields:
    errors = Errors()
    values: dict[str, Any] = {}
    treatment_id = data.get("treatment_id")
    values["treatment"] = None
    if treatment_id not in (None, ""):
        treatment = (
            Treatment.objects.filter(pk=treatment_id, active=True).first() if str(treatment_id).isdigit() else None
        )
        if treatment is None:
            errors.add("treatment_id", _("No such active treatment."))
        values["treatment"] = treatment
    values["appointment_id"] = _appointment_check(errors, data.get("appointment_id"), patient)
    values["diagnosis"] = errors.text("diagnosis", data.get("diagnosis"), max_length=2000)
    code = errors.text("icd10_code", data.get("icd10_code"), max_length=8).upper()
    if code and not ICD10.match(code):
        errors.add("icd10_code", _("An ICD-10 code looks like J45 or J45.901."))
    values["icd10_code"] = code
    values["clinical_notes"] = errors.text("clinical_notes", data.get("clinical_notes"), max_length=10000)
    values["patient_advice"] = errors.text("patient_advice", data.get("patient_advice"), max_length=2000)
    values["follow_up_on"], values["follow_up_note"] = _follow_up_check(errors, data.get("follow_up"))
    lines = _lines_check(errors, data.get("prescriptions") or [])
    if not errors.items and not (values["diagnosis"] or values["clinical_notes"] or lines or values["treatment"]):
        errors.add("diagnosis", _("The record is empty: give a diagnosis, notes, a treatment or a prescription."))
    errors.raise_if_any()
    return RecordFields(values=values, lines=lines)


def _appointment_check(errors: Errors, value: Any, patient: Patient) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        appointment_id = uuid.UUID(str(value))
    except ValueError:
        errors.add("appointment_id", _("No such appointment of this patient."))
        return None
    # By name: clinical does not import scheduling; without it there is no appointment to name.
    appointment_model: Any = None
    with contextlib.suppress(LookupError):
        appointment_model = apps.get_model(APPOINTMENT_MODEL)
    if appointment_model is None or not appointment_model.objects.filter(pk=appointment_id, patient=patient).exists():
        errors.add("appointment_id", _("No such appointment of this patient."))
        return None
    return appointment_id


def _follow_up_check(errors: Errors, value: Any) -> tuple[dt.date | None, str]:
    if value in (None, {}):
        return None, ""
    if not isinstance(value, dict):
        errors.add("follow_up", _("Give in_days or on, and an optional note."))
        return None, ""
    note = errors.text("follow_up.note", value.get("note"), max_length=200)
    today = branch_today()
    if value.get("in_days") not in (None, ""):
        days = errors.integer("follow_up.in_days", value["in_days"], low=1, high=730)
        return (today + timedelta(days=days) if days else None), note
    if value.get("on") not in (None, ""):
        on = errors.date("follow_up.on", value["on"])
        if on is not None and not today < on <= today + timedelta(days=730):
            errors.add("follow_up.on", _("A date after today, within two years."))
            return None, note
        return on, note
    if note:
        errors.add("follow_up.in_days", _("Say when: in how many days, or on which date."))
    return None, note


def _lines_check(errors: Errors, items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list) or len(items) > MAX_PRESCRIPTION_LINES:
        errors.add("prescriptions", _("A list of at most %(n)d medicines.") % {"n": MAX_PRESCRIPTION_LINES})
        return []
    lines = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        lines.append(
            {
                "medicine": errors.text(
                    f"prescriptions.{i}.medicine", item.get("medicine"), max_length=120, required=True
                ),
                "strength": errors.text(f"prescriptions.{i}.strength", item.get("strength"), max_length=60),
                "dose": errors.text(f"prescriptions.{i}.dose", item.get("dose"), max_length=60, required=True),
                "frequency": errors.text(
                    f"prescriptions.{i}.frequency", item.get("frequency"), max_length=60, required=True
                ),
                "duration": errors.text(
                    f"prescriptions.{i}.duration", item.get("duration"), max_length=60, required=True
                ),
                "instructions": errors.text(
                    f"prescriptions.{i}.instructions", item.get("instructions"), max_length=300
                ),
            }
        )
    return lines


def _record_write(record: TreatmentRecord, lines: list[dict[str, str]]) -> TreatmentRecord:
    record.save(force_insert=True)
    if lines:
        prescription = Prescription.objects.create(record=record)
        PrescriptionLine.objects.bulk_create(
            PrescriptionLine(prescription=prescription, position=i, **line) for i, line in enumerate(lines, start=1)
        )
        # Rendered by the pdf workers once this commits; the outbox keeps it if Redis is down.
        outbox_enqueue(PRESCRIPTION_RENDER_TASK, prescription_id=str(prescription.pk))
    return record


def _allergies_confirmed(patient: Patient, checked: RecordFields, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A medicine that clashes with a recorded allergy needs the doctor's confirmation
    (``allergy_acknowledged``): 409 with the clashes until then. Returns what was confirmed."""
    clashes = allergy_clashes(
        [line["medicine"] for line in checked.lines], list(patient.allergies.values_list("substance", flat=True))
    )
    found = [{"line": c.line, "medicine": c.medicine, "allergy": c.allergy} for c in clashes]
    if found and data.get("allergy_acknowledged") is not True:
        names = "; ".join(f"{c.medicine} ({c.allergy})" for c in clashes)
        raise DomainError.conflict(
            _("The patient is allergic: %(clashes)s. Change the prescription, or confirm that you have checked.")
            % {"clashes": names},
            code="allergy_conflict",
            field="prescriptions",
            extra={"clashes": found},
        )
    return found


def _confirmations(confirmed: list[dict[str, Any]]) -> dict[str, Any]:
    """The audit detail of a prescription confirmed against an allergy (nothing otherwise)."""
    return {"allergy_confirmed": confirmed} if confirmed else {}


def treatment_record_create(
    *, doctor: User, patient: Patient, data: dict[str, Any], address: str | None = None
) -> TreatmentRecord:
    """A doctor's record of a visit; the caller has checked that the doctor attends the patient."""
    if doctor.role != Role.DOCTOR:
        raise DomainError.forbidden(_("Only doctors record treatments."))
    checked = _record_check(data, patient)
    confirmed = _allergies_confirmed(patient, checked, data)
    record_id = uuid.uuid4()
    with transaction.atomic():
        record = _record_write(
            TreatmentRecord(
                id=record_id,
                lineage=record_id,
                patient=patient,
                doctor=doctor,
                visit_at=timezone.now(),
                **checked.values,
            ),
            checked.lines,
        )
        RecordDraft.objects.filter(doctor=doctor, patient=patient, lineage__isnull=True).delete()
        audit_record(
            actor=doctor,
            action=AuditEvent.Action.RECORD,
            patient_id=patient.pk,
            address=address,
            record_id=record.pk,
            prescription_lines=len(checked.lines),
            **_confirmations(confirmed),
        )
    return record


def treatment_record_correct(
    *, doctor: User, record: TreatmentRecord, data: dict[str, Any], reason: str, address: str | None = None
) -> TreatmentRecord:
    """A new version of ``record``; the earlier one stays, marked as corrected."""
    errors = Errors()
    reason = errors.text("correction_reason", reason, max_length=1000, required=True)
    errors.raise_if_any()
    if record.doctor_id != doctor.pk:
        raise deny(
            user=doctor,
            action=AuditEvent.Action.CORRECT,
            patient_id=record.patient_id,
            address=address,
            message=_("Only the doctor who wrote a record corrects it."),
        )
    checked = _record_check(data, record.patient)
    confirmed = _allergies_confirmed(record.patient, checked, data)
    with transaction.atomic():
        current = TreatmentRecord.objects.select_for_update().get(pk=record.pk)
        if not current.is_current:
            raise DomainError.conflict(
                _("This record has been corrected since you opened it; open the newest version."), code="stale_version"
            )
        current.is_current = False
        current.save(update_fields=["is_current"])
        corrected = _record_write(
            TreatmentRecord(
                lineage=current.lineage,
                version=current.version + 1,
                correction_reason=reason,
                patient=current.patient,
                doctor=doctor,
                visit_at=current.visit_at,
                follow_up_done_at=current.follow_up_done_at,
                **checked.values,
            ),
            checked.lines,
        )
        RecordDraft.objects.filter(doctor=doctor, patient=current.patient, lineage=current.lineage).delete()
        audit_record(
            actor=doctor,
            action=AuditEvent.Action.CORRECT,
            patient_id=current.patient_id,
            address=address,
            record_id=corrected.pk,
            corrects=current.pk,
            reason=reason,
            **_confirmations(confirmed),
        )
    return corrected


def follow_up_done(*, record: TreatmentRecord, actor: User, address: str | None = None) -> bool:
    """The front desk has booked the follow-up, or settled it otherwise. Returns whether it
    was still open (two desks may press the button at once; one of them settles it)."""
    with transaction.atomic():
        settled = TreatmentRecord.objects.filter(lineage=record.lineage, follow_up_done_at__isnull=True).update(
            follow_up_done_at=timezone.now()
        )
        if settled:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.FOLLOW_UP_DONE,
                patient_id=record.patient_id,
                address=address,
                record_id=record.pk,
            )
    return bool(settled)


def _scratch(value: Any) -> Any:
    """A draft as PostgreSQL's jsonb can keep it: no NUL, no lone surrogates (drafts are
    scratch, so they are cleaned rather than refused)."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_scratch(v) for v in value]
    if isinstance(value, dict):
        return {_scratch(k): _scratch(v) for k, v in value.items()}
    return value


def record_draft_save(
    *,
    doctor: User,
    patient: Patient,
    data: dict[str, Any],
    lineage: uuid.UUID | None = None,
    opened_at: dt.datetime | None = None,
) -> bool:
    """Keep what the doctor has typed. Returns False when the form it came from has been saved
    since it was opened (a late autosave must not bring back a draft of a saved record)."""
    data = _scratch(data)
    if len(json.dumps(data)) > MAX_DRAFT_BYTES:
        raise DomainError.invalid("draft", _("The draft is too long to keep."))
    records = TreatmentRecord.objects.filter(patient=patient, doctor=doctor)
    if lineage is not None and not records.filter(lineage=lineage, is_current=True).exists():
        raise DomainError.invalid("lineage", _("Not a current record of yours for this patient."))
    if opened_at is not None:
        saved_since = records.filter(recorded_at__gt=opened_at)
        if (saved_since.filter(lineage=lineage) if lineage else saved_since.filter(version=1)).exists():
            return False
    RecordDraft.objects.update_or_create(doctor=doctor, patient=patient, lineage=lineage, defaults={"data": data})
    return True


def record_draft_discard(*, doctor: User, patient: Patient, lineage: uuid.UUID | None = None) -> None:
    """The doctor's "discard draft": the form starts again from the record (or empty)."""
    RecordDraft.objects.filter(doctor=doctor, patient=patient, lineage=lineage).delete()
