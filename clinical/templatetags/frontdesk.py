"""Template filters of the front desk's pages."""

from __future__ import annotations

import phonenumbers
from django import template
from django.utils.html import format_html

from core.branch import branch_current

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """A stored E.164 number as the desk reads it aloud: the national form for the branch's own
    country ("020 7946 0018"), the international form for any other ("+91 98765 43210").
    Isolated left-to-right: on a right-to-left page its digit groups would otherwise come out
    in reverse order, and the desk would dial a wrong number."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
        country = branch_current().country.upper()
    except (phonenumbers.NumberParseException, LookupError):
        return format_html('<bdi dir="ltr">{}</bdi>', value)
    local = phonenumbers.region_code_for_number(number) == country
    style = phonenumbers.PhoneNumberFormat.NATIONAL if local else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return format_html('<bdi dir="ltr">{}</bdi>', phonenumbers.format_number(number, style))
