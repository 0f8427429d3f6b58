"""The two NinjaAPI instances and the one place where errors become HTTP answers.

``branch_api`` is served on every branch's host; its OpenAPI document is what the Dart app is
generated from. ``platform_api`` is served on the public host to platform operators only and
has its own document.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.api import auth_router
from clinical.api import break_glass as break_glass_router
from clinical.api import follow_ups as follow_ups_router
from clinical.api import patients as patients_router
from clinical.api import prescriptions as prescriptions_router
from clinical.api import treatments as treatments_router
from core.errors import DomainError
from portal.api import portal as portal_router
from scheduling.api import appointments as appointments_router
from scheduling.api import doctors as doctors_router
from scheduling.api import queue_router
from tenants.api import router as hospitals_router
from tenants.permissions import PlatformOperatorAuth

# Every route's request body is its parameter ``payload``; the error locations leave the name out.
BODY_PARAMETER = "payload"
STATUS = {
    "invalid": 422,
    "conflict": 409,
    "not_found": 404,
    "forbidden": 403,
    "unauthorised": 401,
    "too_many": 429,
}


def _loc(field: str) -> list[str | int]:
    """ "identifiers.0.value" → ["body", "identifiers", 0, "value"], as ninja names list items;
    "header:Idempotency-Key" → ["header", "Idempotency-Key"], "path:appointment_id" → ["path",
    "appointment_id"]."""
    for place in ("header", "path", "query"):
        if field.startswith(f"{place}:"):
            return [place, field.removeprefix(f"{place}:")]
    return ["body", *(int(part) if part.isdigit() else part for part in field.split("."))]


def _flattened(error: dict) -> dict:
    """ninja names a body field under the route's parameter (["body", "payload", "email"]); the
    services' own refusals name it as the client sent it (["body", "email"]), and so does this."""
    loc = list(error.get("loc", ()))
    if loc[:2] == ["body", BODY_PARAMETER]:
        loc = ["body", *loc[2:]]
    return {**error, "loc": loc}


def _install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        status = STATUS[exc.kind]
        body: dict = {"detail": exc.message, "code": exc.code, **exc.extra}
        if status == 422:
            # The same shape as ninja's own validation errors, so clients parse one format.
            errors = exc.errors or [(None, exc.message)]
            body = {
                "detail": [
                    {"loc": _loc(field) if field else ["body"], "msg": message, "type": exc.code}
                    for field, message in errors
                ]
            }
        elif exc.field:
            body["field"] = exc.field
        response = JsonResponse(body, status=status)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return JsonResponse({"detail": [_flattened(error) for error in exc.errors]}, status=422)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return JsonResponse(
            {"detail": "Authentication credentials were not provided or are not valid."},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return JsonResponse({"detail": str(exc) or "You may not do this."}, status=403)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return JsonResponse({"detail": "Not found."}, status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 400:  # an unreadable body: bad input like any other, in the same shape
            return JsonResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "parse_error"}]}, status=422)
        return JsonResponse({"detail": str(exc)}, status=exc.status_code)


branch_api = NinjaAPI(
    title="Hospital branch API",
    version="1",
    description="The API of one hospital branch, reached at the branch's own host name.",
    urls_namespace="branch_api",
    docs_url="/docs",
)
_install_error_handlers(branch_api)
branch_api.add_router("/auth/", auth_router())
branch_api.add_router("/patients/", patients_router)
branch_api.add_router("/treatments/", treatments_router)
branch_api.add_router("/break-glass/", break_glass_router)
branch_api.add_router("/follow-ups/", follow_ups_router)
branch_api.add_router("/prescriptions/", prescriptions_router)
branch_api.add_router("/doctors/", doctors_router)
branch_api.add_router("/appointments/", appointments_router)
branch_api.add_router("/queue/", queue_router)
branch_api.add_router("/portal/", portal_router)

platform_api = NinjaAPI(
    title="Hospital platform API",
    version="1",
    description="For platform operators: onboarding and listing branches.",
    urls_namespace="platform_api",
    docs_url="/docs",
    auth=PlatformOperatorAuth(),
)
_install_error_handlers(platform_api)
platform_api.add_router("/auth/", auth_router())
platform_api.add_router("/platform/hospitals/", hospitals_router)
