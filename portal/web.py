"""The portal's web pages under ``/portal/``, for patients without the app: sign in, choose a
linked record, its upcoming visits (cancel up to the branch's cut-off), book from free slots,
download prescriptions, and see who opened the record. The same services as the API."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.addresses import client_address
from accounts.audit import security_event_record
from accounts.models import Role, SecurityEvent, User
from accounts.services import user_set_language
from accounts.views import signed_out
from clinical import selectors as clinical_selectors
from clinical.api import prescription_file_answer
from clinical.models import Patient, Prescription
from clinical.selectors import MAX_PAGE
from core.branch import branch_current, branch_today, branch_zone
from core.errors import DomainError
from portal import services
from portal.selectors import (
    account_links,
    cancellable_until,
    linked_patient,
    portal_access_log,
    portal_appointment,
    portal_appointments,
    portal_prescription,
    portal_prescriptions,
)
from scheduling import selectors as scheduling_selectors
from scheduling.services import BOOKING_HORIZON, doctor_slots

# How far ahead the booking page looks for the first day with a free time.
FREE_DAY_SEARCH_DAYS = 28


def patient_page(view):
    """A page for a signed-in patient account; anyone else signs in here, staff are refused."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if request.user.role != Role.PATIENT:  # type: ignore[union-attr]
            raise PermissionDenied(_("The patient portal is for patient accounts."))
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


def _linked(request: HttpRequest, patient_id: uuid.UUID) -> Patient:
    patient = linked_patient(request.user, patient_id)  # type: ignore[arg-type]
    if patient is None:
        raise Http404(_("No such patient."))
    return patient


# --- signing in and out ---------------------------------------------------------------------------


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if user.role != Role.PATIENT:
            form.add_error(None, _("This sign-in is for patients. Staff sign in on the staff page."))
            return self.form_invalid(form)
        response = super().form_valid(form)
        security_event_record(kind=SecurityEvent.Kind.LOGIN, request=self.request, user=user, via="portal")
        return response

    def form_invalid(self, form):
        if not getattr(self.request, "axes_locked_out", False) and self.request.method == "POST":
            typed = self.request.POST.get("username", "").replace("\x00", "")
            security_event_record(
                kind=SecurityEvent.Kind.LOGIN_FAILED, request=self.request, username=typed[:150], via="portal"
            )
        return super().form_invalid(form)

    def get_default_redirect_url(self):
        return reverse("portal:home")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    return signed_out(request, via="portal", to="portal:login")


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The patient's language: kept on the account when signed in, in a cookie before."""
    chosen = request.POST.get("language", "")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("portal:home")
    answer = redirect(back)
    if chosen not in branch_current().languages and chosen != settings.LANGUAGE_CODE:
        return answer
    if request.user.is_authenticated:
        try:
            user_set_language(user=request.user, language=chosen)  # type: ignore[arg-type]
        except DomainError:
            return answer
    answer.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, samesite="Lax", secure=request.is_secure())
    return answer


# --- the records the account acts for -------------------------------------------------------------


@patient_page
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    links = account_links(request.user)  # type: ignore[arg-type]
    if len(links) == 1:
        return redirect("portal:patient", links[0].patient_id)
    return render(request, "portal/home.html", {"links": links})


@patient_page
@require_GET
def patient(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    record = _linked(request, patient_id)
    visits = portal_appointments(record, upcoming=True, page=1, page_size=20).items
    now = timezone.now()
    context = {
        "record": record,
        "links": account_links(request.user),  # type: ignore[arg-type]
        "visits": [(visit, cancellable_until(visit)) for visit in visits],
        "now": now,
        "prescriptions": portal_prescriptions(record, page=1, page_size=10).items,
        "cancel_hours": branch_current().portal_cancel_hours,
        "branch_phone": branch_current().contact_phone,
    }
    return render(request, "portal/patient.html", context)


@patient_page
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Choose a doctor, a treatment and a day; the free times are buttons that book."""
    record = _linked(request, patient_id)
    account: User = request.user  # type: ignore[assignment]
    doctors = list(scheduling_selectors.doctors_list())
    treatments = list(clinical_selectors.treatments_for(account))
    sent = request.POST if request.method == "POST" else request.GET
    chosen_doctor = next((d for d in doctors if str(d.pk) == sent.get("doctor", "")), None)
    chosen_treatment = next((t for t in treatments if str(t.pk) == sent.get("treatment", "")), None)
    # Showing the page, the first of each stands in; booking, only what was chosen (a doctor or
    # treatment gone since the page was opened is not swapped for another).
    doctor = chosen_doctor or (doctors[0] if doctors else None)
    treatment = chosen_treatment or (treatments[0] if treatments else None)
    error, status = "", 200
    if request.method == "POST" and (chosen_doctor is None or chosen_treatment is None):
        error, status = _("That doctor or treatment is no longer offered; choose again."), 422
    elif request.method == "POST" and doctor is not None and treatment is not None:
        try:
            start = dt.datetime.fromisoformat(sent.get("start", ""))
        except ValueError:
            error, status = _("Choose one of the free times."), 422
        else:
            try:
                visit = services.portal_book(
                    account=account,
                    patient=record,
                    doctor=doctor,
                    treatment=treatment,
                    start=start,
                    address=client_address(request),
                )
            except DomainError as exc:
                error = exc.message
                status = {"conflict": 409, "too_many": 429}.get(exc.kind, 422)
            else:
                when = visit.start.astimezone(branch_zone())
                messages.success(
                    request,
                    _("Booked: %(treatment)s with %(doctor)s on %(day)s at %(time)s.")
                    % {
                        "treatment": treatment.name,
                        "doctor": doctor.full_name or doctor.username,
                        "day": date_format(when, "DATE_FORMAT"),
                        "time": when.strftime("%H:%M"),
                    },
                )
                return redirect("portal:patient", record.pk)
    day, slots = _day_and_slots(sent.get("date", ""), doctor, treatment)
    context = {
        "record": record,
        "doctors": doctors,
        "treatments": treatments,
        "doctor": doctor,
        "treatment": treatment,
        "day": day,
        "slots": [slot.astimezone(branch_zone()) for slot in slots],
        "error": error,
        "first_day": branch_today(),
        "last_day": branch_today() + BOOKING_HORIZON,
    }
    return render(request, "portal/book.html", context, status=status)


def _day_and_slots(asked: str, doctor: User | None, treatment) -> tuple[dt.date, list[dt.datetime]]:
    """The day asked for and its free times; without one, the first day with any in four weeks."""
    today = branch_today()
    try:
        day = dt.date.fromisoformat(asked)
    except ValueError:
        day = None
    if day is not None and not today <= day <= today + BOOKING_HORIZON:
        day = None
    if doctor is None or treatment is None:
        return day or today, []
    if day is not None:
        return day, doctor_slots(doctor=doctor, day=day, treatment=treatment)
    for ahead in range(FREE_DAY_SEARCH_DAYS):
        candidate = today + dt.timedelta(days=ahead)
        slots = doctor_slots(doctor=doctor, day=candidate, treatment=treatment)
        if slots:
            return candidate, slots
    return today, []


@patient_page
@require_POST
def cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    visit = portal_appointment(request.user, appointment_id)  # type: ignore[arg-type]
    if visit is None:
        raise Http404(_("No such appointment."))
    try:
        services.portal_cancel(
            account=request.user,  # type: ignore[arg-type]
            appointment=visit,
            reason=request.POST.get("reason", "")[:300],
            address=client_address(request),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The visit is cancelled."))
    return redirect("portal:patient", visit.patient_id)


@patient_page
@require_GET
def prescription_pdf(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """The PDF once made; until then a page that looks again by itself."""
    prescription = portal_prescription(request.user, prescription_id)  # type: ignore[arg-type]
    if prescription is None:
        raise Http404(_("No such prescription."))
    made = prescription.pdf_status == Prescription.PdfStatus.READY and bool(prescription.pdf_file)
    ready = made and prescription.pdf_file.storage.exists(prescription.pdf_file.name)
    if request.GET.get("status"):  # the waiting page's own polling (X-Background: renews nothing)
        return JsonResponse({"ready": ready})
    if ready:
        return prescription_file_answer(prescription)
    # Failed, or marked ready with its file missing: the workers' retry makes it, not this page.
    failed = prescription.pdf_status != Prescription.PdfStatus.PENDING
    context = {"prescription": prescription, "failed": failed, "record": prescription.record.patient}
    return render(request, "portal/pdf_pending.html", context, status=503 if failed else 202)


@patient_page
@require_GET
def access_log(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    record = _linked(request, patient_id)
    try:
        page_number = min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except ValueError:
        page_number = 1
    page = portal_access_log(record, account=request.user, page=page_number, page_size=50)
    roles = dict(Role.choices)
    entries = [
        {
            **vars(entry),
            "role": _("A linked account") if entry.role == Role.PATIENT else roles.get(entry.role),
        }
        for entry in page.items
    ]
    context = {
        "record": record,
        "entries": entries,
        "page": page,
        "older": page.page * page.page_size < page.count,
        "names": branch_current().portal_names_staff,
    }
    return render(request, "portal/access_log.html", context)


urlpatterns = [
    path("portal/", home, name="home"),
    path("portal/login/", PortalLoginView.as_view(), name="login"),
    path("portal/logout/", sign_out, name="logout"),
    path("portal/language/", language, name="language"),
    path("portal/patients/<uuid:patient_id>/", patient, name="patient"),
    path("portal/patients/<uuid:patient_id>/book/", book, name="book"),
    path("portal/patients/<uuid:patient_id>/access-log/", access_log, name="access_log"),
    path("portal/visits/<uuid:appointment_id>/cancel/", cancel, name="cancel"),
    path("portal/prescriptions/<uuid:prescription_id>/pdf/", prescription_pdf, name="prescription_pdf"),
]
