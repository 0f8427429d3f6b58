"""How typed text becomes what is stored and searched: names, phone numbers, identifiers."""

from __future__ import annotations

import re
import unicodedata

from core.phones import PhoneError, phone_e164

__all__ = [
    "NAME_KEY_LENGTH",
    "PhoneError",
    "identifier_normalise",
    "name_clean",
    "name_for_search",
    "phone_e164",
    "phone_for_search",
]
_SPACES = re.compile(r"\s+")
_IDENTIFIER_NOISE = re.compile(r"[\s./-]+")


def name_clean(value: str) -> str:
    """A name as stored: spaces trimmed and collapsed, Unicode composed (NFC)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


# Casefolding and compatibility decomposition can make a name many times longer ("ﷺ" is 18
# letters): the key is cut to what its column and index hold. Queries are cut the same way.
NAME_KEY_LENGTH = 400


def name_for_search(value: str) -> str:
    """Lower-case, without accents or combining marks, spaces collapsed: "José  Núñez" and
    "jose nunez" are the same key. Used for the stored column and for every query."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip()[:NAME_KEY_LENGTH]


def phone_for_search(value: str, region: str) -> str | None:
    """The E.164 form of a query that looks like a phone number, however it was typed."""
    try:
        return phone_e164(value, region)
    except PhoneError:
        return None


def identifier_normalise(value: str) -> str:
    return _IDENTIFIER_NOISE.sub("", value).upper()
