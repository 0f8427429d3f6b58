"""Phone numbers as stored and matched: E.164, read with the branch's country when typed without
one. In ``core`` because sign-in (accounts) and registration (clinical) both read them."""

from __future__ import annotations

import re

import phonenumbers

# What a phone number may be typed with: digits, a leading +, spaces, dots, dashes, brackets.
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{6,30}$")


class PhoneError(ValueError):
    pass


def phone_e164(value: str, region: str) -> str:
    """A number with its own country code is taken as it is; one without is read with the
    branch's country. Raises PhoneError for anything that is not a valid number."""
    value = value.strip()
    if not _PHONE_LIKE.match(value):
        raise PhoneError("not a phone number")
    try:
        number = phonenumbers.parse(value, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
