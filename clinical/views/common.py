"""What every clinical page needs: the patient a user may open, as a page answers it."""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.addresses import client_address
from clinical.permissions import VIEW_ROLES, PatientAccess, patient_get_for_user
from core.errors import DomainError


def page_access(
    request: HttpRequest,
    patient_id: uuid.UUID,
    action: str,
    *,
    roles: frozenset[str] = VIEW_ROLES,
    audit_read: bool = True,
) -> PatientAccess:
    """``patient_get_for_user`` for a page: 404 and 403 as Django's own, the denial recorded."""
    try:
        return patient_get_for_user(
            user=request.user,  # type: ignore[arg-type]
            patient_id=patient_id,
            action=action,
            roles=roles,
            address=client_address(request),
            audit_read=audit_read,
        )
    except DomainError as exc:
        if exc.kind == "not_found":
            raise Http404(exc.message) from exc
        raise PermissionDenied(exc.message) from exc


def form_errors(form, exc: DomainError) -> None:
    """Put a service's refusals next to the fields they name (the rest above the form)."""
    for field, message in exc.errors or [(exc.field or "", exc.message)]:
        name = (field or "").split(".")[0]
        form.add_error(name if name in form.fields else None, message)
