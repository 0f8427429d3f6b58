"""The queue's pages: the front desk's live queue per doctor (with walk-ins and token slips), the
doctor's own queue with "call next" opening the patient's record, and the waiting-room board
(tokens only, never a name) that a screen in the waiting room shows without anyone signed in."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.models import Role, User
from accounts.permissions import role_required
from clinical import selectors as clinical_selectors
from core.branch import branch_current, branch_today
from core.db import current_schema
from core.errors import DomainError
from core.params import whole_number_param
from scheduling import queue, selectors

DESK = (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST)
STEER = (Role.HOSPITAL_ADMIN, Role.RECEPTIONIST, Role.DOCTOR)
BOARD_SALT = "scheduling.queue-board"
POLL_SECONDS = 5


def _doctor_param(request: HttpRequest, doctors: list[User]) -> User | None:
    wanted = request.GET.get("doctor", "")
    return next((d for d in doctors if str(d.pk) == wanted), doctors[0] if doctors else None)


def _expected(text: str) -> set[uuid.UUID] | None:
    """The entries a page showed as current ("id,id"; empty: nobody), or None if unreadable."""
    try:
        return {uuid.UUID(part) for part in text.split(",") if part}
    except ValueError:
        return None


def _live_context(doctor: User, *, back: str) -> dict:
    now = timezone.now()
    view = selectors.queue_of(doctor=doctor, day=branch_today(), now=now)
    alert = branch_current().queue_wait_alert_minutes
    return {
        "doctor": doctor,
        "view": view,
        "waiting": [
            (
                entry,
                selectors.queue_waited_minutes(entry, now=now),
                selectors.queue_long_wait(entry, now=now, alert_minutes=alert),
            )
            for entry in view.waiting
        ],
        "alert_minutes": alert,
        "poll_seconds": POLL_SECONDS,
        # Where the table's buttons come back to: the page that holds it, never the fragment.
        "back": back,
        "current_ids": ",".join(str(entry.pk) for entry in view.current),
    }


@role_required(*DESK)
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    """The front desk's live queue of one doctor at a time."""
    doctors = list(selectors.doctors_list())
    doctor = _doctor_param(request, doctors)
    back = f"{reverse('scheduling:queue')}?doctor={doctor.pk}" if doctor else ""
    context = {"doctors": doctors, **(_live_context(doctor, back=back) if doctor else {"doctor": None})}
    return render(request, "scheduling/queue/desk.html", context)


@role_required(*STEER)
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """The queue's table alone, polled by the desk's and the doctor's pages (X-Background)."""
    user: User = request.user  # type: ignore[assignment]
    asked = whole_number_param(request.GET.get("doctor"))
    doctor = clinical_selectors.doctor_active(asked) if asked is not None else None
    if doctor is None:
        raise Http404(_("No such doctor."))
    if user.role == Role.DOCTOR and doctor.pk != user.pk:
        raise PermissionDenied(_("A doctor sees their own queue."))
    mine = user.pk == doctor.pk
    back = reverse("scheduling:queue_mine") if mine else f"{reverse('scheduling:queue')}?doctor={doctor.pk}"
    return render(request, "scheduling/queue/_live.html", {**_live_context(doctor, back=back), "mine": mine})


@role_required(Role.DOCTOR)
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """The doctor's own queue: "Call next" opens the patient's record."""
    context = {**_live_context(request.user, back=reverse("scheduling:queue_mine")), "mine": True}  # type: ignore[arg-type]
    return render(request, "scheduling/queue/mine.html", context)


@role_required(Role.DOCTOR, Role.HOSPITAL_ADMIN)
@require_POST
def call_next(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    asked = whole_number_param(request.POST.get("doctor"))
    if user.role == Role.DOCTOR:
        doctor: User | None = user
    else:
        doctor = clinical_selectors.doctor_active(asked) if asked is not None else None
    if doctor is None:
        raise Http404(_("No such doctor."))
    back = "scheduling:queue_mine" if user.role == Role.DOCTOR else "scheduling:queue"
    expected = _expected(request.POST.get("current", "")) if "current" in request.POST else None
    try:
        called = queue.queue_call_next(doctor=doctor, actor=user, expected=expected, address=client_address(request))
    except DomainError as exc:
        if exc.kind == "forbidden":
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
        return redirect(back)
    if called.entry is None:
        messages.info(request, _("No one is waiting."))
        return redirect(back)
    messages.success(request, _("Token %(token)s is called.") % {"token": called.entry.token})
    if user.role == Role.DOCTOR:
        return redirect("clinical:record_new", patient_id=called.entry.patient_id)
    return redirect(f"{reverse('scheduling:queue')}?doctor={doctor.pk}")


STEPS = {
    "skip": queue.queue_skip,
    "recall": queue.queue_recall,
    "start": queue.queue_start,
    "done": queue.queue_done,
    "left": queue.queue_left,
}
AUDITED_STEPS = frozenset({"done", "left"})


@role_required(*STEER)
@require_POST
def step(request: HttpRequest, entry_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in STEPS:
        raise Http404
    user: User = request.user  # type: ignore[assignment]
    entry = selectors.queue_entry_for(user=user, entry_id=entry_id)
    if entry is None:
        raise Http404(_("No such queue entry."))
    try:
        # Seen and gone change the visit too, recorded in the audit trail with the address.
        audited = {"address": client_address(request)} if action in AUDITED_STEPS else {}
        STEPS[action](entry=entry, actor=user, **audited)
    except DomainError as exc:
        if exc.kind == "forbidden":
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) and back.startswith("/"):
        return redirect(back)
    return redirect("scheduling:queue_mine" if user.role == Role.DOCTOR else "scheduling:queue")


@role_required(*DESK)
@require_http_methods(["GET", "POST"])
def walk_in(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Add a registered patient to a doctor's queue now; the slip is printed next."""
    user: User = request.user  # type: ignore[assignment]
    patient = clinical_selectors.patient_get(patient_id)
    if patient is None:
        raise Http404(_("No such patient."))
    doctors = list(selectors.doctors_list())
    treatments = list(clinical_selectors.treatments_for(user).filter(active=True))
    error, status = "", 200
    if request.method == "POST":
        doctor = next((d for d in doctors if str(d.pk) == request.POST.get("doctor", "")), None)
        treatment = next((t for t in treatments if str(t.pk) == request.POST.get("treatment", "")), None)
        if doctor is None or treatment is None:
            error, status = _("Choose a doctor and a treatment."), 422
        else:
            try:
                entry = queue.queue_walk_in(
                    patient=patient, doctor=doctor, treatment=treatment, actor=user, address=client_address(request)
                )
            except DomainError as exc:
                error, status = exc.message, 409 if exc.kind == "conflict" else 422
            else:
                done = _("%(name)s is in the queue: token %(token)s.")
                messages.success(request, done % {"name": patient.display_name, "token": entry.token})
                return redirect("scheduling:queue_slip", entry_id=entry.pk)
    context = {"patient": patient, "doctors": doctors, "treatments": treatments, "error": error}
    return render(request, "scheduling/queue/walk_in.html", context, status=status)


@role_required(*DESK)
@require_GET
def slip(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """The token slip for an 80 mm receipt printer: the token, the doctor and room, the time."""
    entry = selectors.queue_entry_for(user=request.user, entry_id=entry_id)  # type: ignore[arg-type]
    if entry is None:
        raise Http404(_("No such queue entry."))
    place = selectors.queue_place(entry, selectors.queue_of(doctor=entry.doctor, day=entry.day))
    context = {
        "entry": entry,
        "profile": getattr(entry.doctor, "doctor_profile", None),
        "ahead": place.ahead,
        "wait_minutes": place.wait_minutes,
    }
    return render(request, "scheduling/queue/slip.html", context)


# --- the waiting-room board -------------------------------------------------------------------------


def board_key() -> str:
    """The board's address for this branch: signed, so that it cannot be guessed or turned into
    another branch's, and opened by a screen with nobody signed in."""
    return signing.dumps(current_schema(), salt=BOARD_SALT)


def _board_allowed(key: str) -> bool:
    try:
        return signing.loads(key, salt=BOARD_SALT) == current_schema()
    except signing.BadSignature:
        return False


@role_required(*STEER)
@require_GET
def board_open(request: HttpRequest) -> HttpResponse:
    """Staff open the board here; its signed address is what the waiting room's screen keeps."""
    return redirect("scheduling:queue_board", key=board_key())


@never_cache
@require_GET
def board(request: HttpRequest, key: str) -> HttpResponse:
    if not _board_allowed(key):
        raise Http404
    context = {"board": selectors.queue_board(day=branch_today()), "key": key, "poll_seconds": POLL_SECONDS}
    template = "scheduling/queue/_board.html" if request.GET.get("part") else "scheduling/queue/board.html"
    return render(request, template, context)


urlpatterns = [
    path("queue/", desk, name="queue"),
    path("queue/live/", live, name="queue_live"),
    path("queue/mine/", mine, name="queue_mine"),
    path("queue/call-next/", call_next, name="queue_call_next"),
    path("queue/<uuid:entry_id>/<str:action>/", step, name="queue_step"),
    path("queue/walk-in/<uuid:patient_id>/", walk_in, name="queue_walk_in"),
    path("queue/slip/<uuid:entry_id>/", slip, name="queue_slip"),
    path("queue/board/", board_open, name="queue_board_open"),
    path("queue/board/<str:key>/", board, name="queue_board"),
]
