"""Reads that need more than one line: search, the profile's parts, the timeline, review lists."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from clinical.models import (
    AuditEvent,
    BreakGlassAccess,
    Patient,
    PatientIdentifier,
    PatientUserObjectPermission,
    Prescription,
    PrescriptionLine,
    RecordDraft,
    Treatment,
    TreatmentRecord,
)
from clinical.normalise import identifier_normalise, name_for_search, phone_for_search
from clinical.permissions import ATTEND
from core.branch import branch_current, branch_day_start
from core.errors import DomainError

# Whitelisted orderings: the value a client sends → the columns (with a unique tie-breaker).
PATIENT_ORDERINGS = {
    "name": ("name_search", "id"),
    "-name": ("-name_search", "-id"),
    "mrn": ("mrn",),
    "-mrn": ("-mrn",),
    "registered": ("registered_at", "id"),
    "-registered": ("-registered_at", "-id"),
    "date_of_birth": ("date_of_birth", "id"),
    "-date_of_birth": ("-date_of_birth", "-id"),
}
MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000  # far past any real list; a bigger OFFSET would not fit PostgreSQL's bigint


@dataclass
class Page:
    items: list[Any]
    count: int
    page: int
    page_size: int


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    if not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise DomainError.invalid("page", _("A page number from 1 to %(n)d.") % {"n": MAX_PAGE})
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DomainError.invalid("page_size", _("Between 1 and %(n)d.") % {"n": MAX_PAGE_SIZE})
    start = (page - 1) * page_size
    return start, start + page_size


def paginate(items: QuerySet, *, page: int, page_size: int) -> Page:
    """One page of an ordered query, and how many there are in all (every list answers so)."""
    start, end = page_bounds(page, page_size)
    count = items.count()
    return Page(items=list(items[start:end]) if start < count else [], count=count, page=page, page_size=page_size)


def doctor_patient_ids(doctor: User) -> QuerySet:
    """The ids of the patients a doctor may open now: assigned, or by unexpired break-glass."""
    assigned = PatientUserObjectPermission.objects.filter(user=doctor, permission__codename=ATTEND).values(
        "content_object_id"
    )
    emergency = BreakGlassAccess.objects.filter(doctor=doctor, expires_at__gt=timezone.now()).values("patient_id")
    return assigned.union(emergency)


def patients_visible_to(user: User) -> QuerySet[Patient]:
    if user.role in (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST):
        return Patient.objects.all()
    if user.role == Role.DOCTOR:
        return Patient.objects.filter(pk__in=doctor_patient_ids(user))
    return Patient.objects.none()


def _search_match(search: str) -> Q:
    """What a typed search term can be: a name fragment, a phone number however it is typed,
    an MRN, an identifier or a patient id. Any of them matches."""
    term = search.strip()
    match = Q(mrn=term.upper().replace(" ", ""))
    with contextlib.suppress(ValueError):
        match |= Q(pk=uuid.UUID(term))
    identifier = identifier_normalise(term)
    if identifier:
        # Looked up first: an IN (subquery) inside the OR would keep PostgreSQL from using any
        # index for the whole condition and turn every search into a scan of the table.
        owners = list(
            PatientIdentifier.objects.filter(value_normalised=identifier).values_list("patient_id", flat=True)[:100]
        )
        if owners:
            match |= Q(pk__in=owners)
    phone = phone_for_search(term, branch_current().country)
    if phone:
        match |= Q(phone=phone)
    words = [w for w in name_for_search(term).split(" ") if len(w) >= 2]
    if words:
        name_match = Q()
        for word in words:
            if len(word) == 2:
                # Two letters hold no whole trigram: match them at the start of a name part,
                # which the trigram index can serve ("li" finds Li Wei and Lily, not Emily).
                name_match &= Q(name_search__startswith=word) | Q(name_search__contains=f" {word}")
            else:
                name_match &= Q(name_search__contains=word)
        match |= name_match
    return match


def patient_search(
    *,
    user: User,
    search: str = "",
    doctor_id: int | None = None,
    treatment_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    ordering: str = "name",
    page: int = 1,
    page_size: int = 20,
) -> Page:
    if ordering not in PATIENT_ORDERINGS:
        raise DomainError.invalid(
            "ordering", _("Must be one of: %(choices)s.") % {"choices": ", ".join(PATIENT_ORDERINGS)}
        )
    if date_from and date_to and date_from > date_to:
        raise DomainError.invalid("date_to", _("Must not be before date_from."))
    page_bounds(page, page_size)  # a bad page is refused before any query
    patients = patients_visible_to(user)
    if search.strip():
        patients = patients.filter(_search_match(search))
    if doctor_id or treatment_id or date_from or date_to:
        patients = patients.filter(
            _visited(doctor_id=doctor_id, treatment_id=treatment_id, date_from=date_from, date_to=date_to)
        )
    return paginate(patients.order_by(*PATIENT_ORDERINGS[ordering]), page=page, page_size=page_size)


# The appointments that are visits: booked ahead, under way or done (not cancelled, not missed).
VISIT_STATUSES = ("booked", "checked_in", "completed")


def _visited(
    *, doctor_id: int | None, treatment_id: int | None, date_from: dt.date | None, date_to: dt.date | None
) -> Q:
    """Patients with a visit matching the filters: an appointment (scheduling's, by name: clinical
    does not import it) or a treatment record (a visit recorded without an appointment). Days are
    the branch's."""
    starts = branch_day_start(date_from) if date_from else None
    ends = branch_day_start(date_to + dt.timedelta(days=1)) if date_to and date_to < dt.date.max else None
    records = TreatmentRecord.objects.filter(patient=OuterRef("pk"), is_current=True)
    records = records.filter(**_present(doctor_id=doctor_id, treatment_id=treatment_id))
    records = records.filter(**_present(visit_at__gte=starts, visit_at__lt=ends))
    visited = Q(Exists(records))
    with contextlib.suppress(LookupError):
        appointments = apps.get_model("scheduling", "Appointment").objects.filter(
            patient=OuterRef("pk"), status__in=VISIT_STATUSES
        )
        appointments = appointments.filter(**_present(doctor_id=doctor_id, treatment_id=treatment_id))
        visited |= Q(Exists(appointments.filter(**_present(start__gte=starts, start__lt=ends))))
    return visited


def _present(**lookups: Any) -> dict[str, Any]:
    return {key: value for key, value in lookups.items() if value is not None}


def phone_sharers_count(*, user: User, patients: list[Patient]) -> dict[str, int]:
    """For each phone number of ``patients``, how many other patients ``user`` may see share it
    (a family on one phone): a hint beside search results, one query for a page of them."""
    phones = {p.phone for p in patients if p.phone}
    if not phones:
        return {}
    rows = patients_visible_to(user).filter(phone__in=phones).values("phone").annotate(n=Count("pk"))
    return {row["phone"]: row["n"] - 1 for row in rows if row["n"] > 1}


def patients_not_attended(*, doctor: User, search: str, limit: int = 10) -> list[Patient]:
    """Patients matching ``search`` whom ``doctor`` may not open: the way to break-glass access
    in an emergency. Demographics only are shown for them (name, MRN, birth date)."""
    if not search.strip():
        return []
    return list(
        Patient.objects.filter(_search_match(search))
        .exclude(pk__in=doctor_patient_ids(doctor))
        .order_by("name_search", "id")[:limit]
    )


def patient_doctors(patient: Patient) -> list[User]:
    return list(
        User.objects.filter(
            patientuserobjectpermission__content_object=patient,
            patientuserobjectpermission__permission__codename=ATTEND,
        ).order_by("full_name")
    )


def records_with_prescriptions(records: QuerySet[TreatmentRecord]) -> QuerySet[TreatmentRecord]:
    return records.select_related("doctor", "treatment", "prescription").prefetch_related(
        Prefetch("prescription__lines", queryset=PrescriptionLine.objects.order_by("position"))
    )


def patient_recent_records(patient: Patient, limit: int = 10) -> list[TreatmentRecord]:
    return list(
        records_with_prescriptions(patient.treatment_records.filter(is_current=True)).order_by("-visit_at")[:limit]
    )


def _appointments_of(patient: Patient) -> QuerySet | None:
    """The patient's appointments, through the relation scheduling adds (clinical does not
    import it); None before scheduling exists."""
    accessor: str = "appointments"
    if not any(rel.get_accessor_name() == accessor for rel in Patient._meta.related_objects):
        return None
    return getattr(patient, accessor).select_related("doctor", "treatment").order_by("-start", "-pk")


def patient_recent_appointments(patient: Patient, limit: int = 10) -> list[Any]:
    appointments = _appointments_of(patient)
    return [] if appointments is None else list(appointments[:limit])


def patient_appointments(patient: Patient, *, page: int = 1, page_size: int = 20) -> Page:
    """The patient's appointment history, newest first, a page at a time."""
    appointments = _appointments_of(patient)
    if appointments is None:
        return Page(items=[], count=0, page=1, page_size=page_size)
    return paginate(appointments, page=page, page_size=page_size)


@dataclass(frozen=True)
class TimelineEntry:
    record: TreatmentRecord
    # Earlier versions of the same record, newest first: corrections never hide what was written.
    earlier: list[TreatmentRecord]


def patient_timeline(patient: Patient, *, page: int = 1, page_size: int = 20) -> Page:
    current = patient.treatment_records.filter(is_current=True)
    found = paginate(records_with_prescriptions(current).order_by("-visit_at", "-id"), page=page, page_size=page_size)
    records = found.items
    earlier: dict[uuid.UUID, list[TreatmentRecord]] = defaultdict(list)
    corrected = [r.lineage for r in records if r.version > 1]
    if corrected:
        for old in records_with_prescriptions(
            TreatmentRecord.objects.filter(lineage__in=corrected, is_current=False)
        ).order_by("-version"):
            earlier[old.lineage].append(old)
    found.items = [TimelineEntry(record=r, earlier=earlier.get(r.lineage, [])) for r in records]
    return found


def doctor_last_record(patient: Patient) -> TreatmentRecord | None:
    """The newest record with a prescription: what "repeat" copies."""
    return (
        records_with_prescriptions(patient.treatment_records.filter(is_current=True, prescription__isnull=False))
        .order_by("-visit_at")
        .first()
    )


def patient_get(patient_id: uuid.UUID | str) -> Patient | None:
    """A patient by id with no access check: for break-glass, whose point is a patient the
    doctor is not assigned to. Everything else goes through permissions.patient_get_for_user."""
    try:
        return Patient.objects.filter(pk=uuid.UUID(str(patient_id))).first()
    except ValueError:
        return None


def doctor_active(doctor_id: int) -> User | None:
    return User.objects.filter(pk=doctor_id, role=Role.DOCTOR, is_active=True).first()


def treatments_for(user: User) -> QuerySet[Treatment]:
    """The catalogue as a role sees it: hospital admins manage inactive entries too."""
    catalogue = Treatment.objects.order_by("name")
    return catalogue if user.role == Role.HOSPITAL_ADMIN else catalogue.filter(active=True)


def record_get(record_id: uuid.UUID) -> TreatmentRecord | None:
    return (
        TreatmentRecord.objects.select_related("patient", "doctor", "treatment", "prescription")
        .filter(pk=record_id)
        .first()
    )


def record_current(lineage: uuid.UUID) -> TreatmentRecord | None:
    return TreatmentRecord.objects.filter(lineage=lineage, is_current=True).first()


def record_draft_get(*, doctor: User, patient: Patient, lineage: uuid.UUID | None) -> RecordDraft | None:
    return RecordDraft.objects.filter(doctor=doctor, patient=patient, lineage=lineage).first()


def break_glass_to_review() -> QuerySet[BreakGlassAccess]:
    return BreakGlassAccess.objects.filter(reviewed_at__isnull=True).select_related("doctor", "patient")


def follow_ups_advised() -> QuerySet[TreatmentRecord]:
    """Every follow-up doctors advised, booked or not."""
    return (
        TreatmentRecord.objects.filter(is_current=True, follow_up_on__isnull=False)
        .select_related("patient", "doctor")
        .order_by("follow_up_on")
    )


def follow_ups_to_book() -> QuerySet[TreatmentRecord]:
    return follow_ups_advised().filter(follow_up_done_at__isnull=True)


def audit_events(
    *,
    patient_id: uuid.UUID | None = None,
    actor_id: int | None = None,
    action: str = "",
    outcome: str = "",
    break_glass: bool | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if patient_id:
        events = events.filter(patient_id=patient_id)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    if outcome:
        events = events.filter(outcome=outcome)
    if break_glass is not None:
        events = events.filter(break_glass=break_glass)
    # Days in the branch's time zone (the active one), as a range the index on `at` can serve.
    if date_from:
        events = events.filter(at__gte=branch_day_start(date_from))
    if date_to and date_to < dt.date.max:
        events = events.filter(at__lt=branch_day_start(date_to + dt.timedelta(days=1)))
    return events.order_by("-id")


# --- the hospital admin's pages ---------------------------------------------------------------------


def break_glass_reviewed_recent(limit: int = 20) -> list[BreakGlassAccess]:
    return list(
        BreakGlassAccess.objects.filter(reviewed_at__isnull=False)
        .select_related("doctor", "patient", "reviewed_by")
        .order_by("-reviewed_at")[:limit]
    )


def doctors_assignable(patient: Patient) -> QuerySet[User]:
    """The branch's active doctors not assigned to ``patient`` yet."""
    assigned = PatientUserObjectPermission.objects.filter(content_object=patient, permission__codename=ATTEND).values(
        "user_id"
    )
    return User.objects.filter(role=Role.DOCTOR, is_active=True).exclude(pk__in=assigned).order_by("full_name", "id")


def patient_id_for_reference(reference: str) -> uuid.UUID | None:
    """The patient an admin names by id or by MRN; an id is taken as given (the audit trail
    may name it), an MRN must belong to a patient."""
    term = reference.strip()
    with contextlib.suppress(ValueError):
        return uuid.UUID(term)
    return Patient.objects.filter(mrn=term.upper().replace(" ", "")).values_list("pk", flat=True).first()


def patient_mrns(patient_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(Patient.objects.filter(pk__in=patient_ids).values_list("pk", "mrn")) if patient_ids else {}


def treatments_catalogue() -> QuerySet[Treatment]:
    """Every treatment of the branch, inactive ones too (the admin's view of the catalogue)."""
    return Treatment.objects.order_by("name", "id")


def prescription_get(prescription_id: uuid.UUID) -> Prescription | None:
    return Prescription.objects.select_related("record__patient").filter(pk=prescription_id).first()


def patient_language(patient: Patient) -> str:
    """The language the branch writes to the patient in: theirs, or the branch's first."""
    return patient.preferred_language or branch_current().default_language
