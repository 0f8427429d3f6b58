from __future__ import annotations

from ninja import Schema


class TokenIn(Schema):
    username: str
    password: str


class RefreshIn(Schema):
    refresh: str


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
