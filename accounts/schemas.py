from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, Field


def _storable(value: str) -> str:
    # PostgreSQL cannot store NUL, and a lone surrogate cannot be encoded at all: refuse both
    # here (422) rather than fail in the database (500).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(_storable)]


class TokenIn(Schema):
    username: Annotated[Text, Field(min_length=1, max_length=150)]
    password: Annotated[Text, Field(min_length=1, max_length=4096)]


class RefreshIn(Schema):
    refresh: Annotated[Text, Field(min_length=1, max_length=200)]


class TokenOut(Schema):
    access: str
    refresh: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int
    role: str


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    email: str
    role: str
    preferred_language: str
