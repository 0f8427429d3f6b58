"""Checks shared by every clinical write, collecting each bad field so that one answer (a 422,
or a form with inline errors) names them all. Nothing is stored until every check passes."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from clinical.normalise import PhoneError, phone_e164
from core.errors import DomainError


class Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise DomainError.invalid_fields(self.items)

    def text(self, field: str, value: Any, *, max_length: int, required: bool = False) -> str:
        """A trimmed string of bounded length, without the characters PostgreSQL cannot store."""
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(field, _("Must be text."))
            return ""
        # Composed first, so the length checked is the length stored (a decomposed character
        # can grow when composed, and vice versa).
        value = value.strip()
        if "\x00" in value:
            self.add(field, _("Contains a character that is not allowed."))
            return ""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.add(field, _("Contains a character that is not allowed."))
            return ""
        value = unicodedata.normalize("NFC", value)
        if required and not value:
            self.add(field, _("This field is required."))
        elif len(value) > max_length:
            self.add(field, _("At most %(n)d characters.") % {"n": max_length})
            return ""
        return value

    def phone(self, field: str, value: Any, *, region: str) -> str:
        value = self.text(field, value, max_length=40)
        if not value:
            return ""
        try:
            return phone_e164(value, region)
        except PhoneError:
            self.add(field, _("Not a valid phone number (for another country, start with + and its code)."))
            return ""

    def email(self, field: str, value: Any) -> str:
        value = self.text(field, value, max_length=254)
        if not value:
            return ""
        try:
            validate_email(value)
        except ValidationError:
            self.add(field, _("Not a valid e-mail address."))
            return ""
        local, _at, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    def choice(self, field: str, value: Any, choices: Any, *, required: bool = True) -> str:
        if value in (None, "") and not required:
            return ""
        if value not in choices.values:
            self.add(field, _("Must be one of: %(choices)s.") % {"choices": ", ".join(choices.values)})
            return ""
        return str(value)

    def date(self, field: str, value: Any) -> dt.date | None:
        if value in (None, ""):
            return None
        if isinstance(value, dt.datetime):
            self.add(field, _("A date without a time, YYYY-MM-DD."))
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.add(field, _("A date, YYYY-MM-DD."))
            return None

    def integer(self, field: str, value: Any, *, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.add(field, _("A whole number."))
            return None
        try:
            number = int(value)
        except ValueError:
            self.add(field, _("A whole number."))
            return None
        if not low <= number <= high:
            self.add(field, _("Between %(low)d and %(high)d.") % {"low": low, "high": high})
            return None
        return number


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def months_before(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def age_parts(born: dt.date, today: dt.date) -> tuple[int, int, int]:
    """Whole years, whole months and days between a birth date and today."""
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    months_total = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    return years, months_total, (today - born).days


def age_display(born: dt.date, today: dt.date) -> str:
    """How a clinician reads an age: years from two, months below that, days for the newborn."""
    years, months, days = age_parts(born, today)
    if years >= 2:
        return _("%(n)d y") % {"n": years}
    if months >= 1:
        return _("%(n)d mo") % {"n": months}
    return _("%(n)d d") % {"n": days}
