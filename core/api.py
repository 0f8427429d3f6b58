"""The shapes of the API's error answers, for the OpenAPI document (the Dart app's code is
generated from it). ``config/api.py`` makes every error into one of these."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field


class ErrorOut(Schema):
    """401, 403, 404 and 409 (and 503): what went wrong, for people and for code. A conflict can
    carry more, e.g. ``taken_by`` and ``clash_start`` of the visit in the way."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(description="For people, in the request's language.")
    code: str | None = Field(None, description="For code: e.g. not_found, conflict, wrong_status.")
    field: str | None = Field(None, description="The field a conflict is about, when there is one.")


class FieldError(Schema):
    loc: list[str | int] = Field(
        description='Where: e.g. ["body", "email"], ["query", "date"], ["path", "appointment_id"].'
    )
    msg: str = Field(description="For people, in the request's language.")
    type: str = Field(description="For code: e.g. missing, invalid, off_grid, past_cancel_cut_off.")
    ctx: dict[str, Any] | None = Field(None, description="More about a type check that failed, when there is any.")


class ValidationErrorOut(Schema):
    """422: each field that was refused, and why. Nothing was changed."""

    detail: list[FieldError]


# What every route of the branch API may answer besides its success.
ERRORS: dict[int, type[Schema]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ValidationErrorOut,
}
