"""The one exception type for broken rules, raised by services and mapped to HTTP once.

``config/api.py`` maps a kind to a status for the API; dashboard views show the message next
to the field it names.
"""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal["invalid", "conflict", "not_found", "forbidden", "unauthorised", "too_many"]


class DomainError(Exception):
    def __init__(
        self,
        message: str,
        *,
        kind: Kind = "invalid",
        code: str = "invalid",
        field: str | None = None,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        self.kind = kind
        self.code = code
        self.field = field
        self.retry_after = retry_after
        # More of the answer for the client: a conflict's candidates, for instance.
        self.extra = extra or {}
        # Every invalid field at once (field, message), so a form can mark them all.
        self.errors = errors or ([(field, self.message)] if field else [])

    @classmethod
    def invalid(cls, field: str, message: str, code: str = "invalid") -> DomainError:
        return cls(message, kind="invalid", code=code, field=field)

    @classmethod
    def invalid_fields(cls, errors: list[tuple[str, str]]) -> DomainError:
        field, message = errors[0]
        return cls(message, kind="invalid", code="invalid", field=field, errors=errors)

    @classmethod
    def conflict(
        cls, message: str, code: str = "conflict", field: str | None = None, extra: dict[str, Any] | None = None
    ) -> DomainError:
        return cls(message, kind="conflict", code=code, field=field, extra=extra)

    @classmethod
    def not_found(cls, message: str = "Not found.") -> DomainError:
        return cls(message, kind="not_found", code="not_found")

    @classmethod
    def forbidden(cls, message: str) -> DomainError:
        return cls(message, kind="forbidden", code="forbidden")

    @classmethod
    def too_many(cls, message: str, retry_after: int) -> DomainError:
        return cls(message, kind="too_many", code="too_many_requests", retry_after=retry_after)
