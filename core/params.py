"""Values from query strings and forms, read without a 500: what cannot be read is None."""

from __future__ import annotations

import uuid


def uuid_param(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return None


def whole_number_param(value: str | None, *, below: int = 1_000_000_000) -> int | None:
    """A whole number from 0 up to ``below``. ``isdigit`` alone would let "²" or Arabic-Indic
    digits through, which ``int()`` refuses or reads otherwise."""
    if not value or not value.isascii() or not value.isdecimal() or len(value) > 12:
        return None
    number = int(value)
    return number if number < below else None
