from __future__ import annotations

from ninja import Schema
from pydantic import Field


class HospitalIn(Schema):
    group: str = Field(..., description="The hospital group; created if new.")
    name: str
    slug: str = Field(..., description="Host label and schema name: <slug>.<BASE_DOMAIN>.")
    country: str = Field(..., description="ISO 3166 code, e.g. GB; the default for phone numbers.")
    time_zone: str = Field(..., description="IANA name, e.g. Europe/London.")
    admin_email: str
    admin_name: str = ""
    languages: list[str] = ["en"]
    mrn_prefix: str = ""
    address: str = ""
    contact_phone: str = ""
    contact_email: str = ""


class HospitalOut(Schema):
    id: int
    group: str
    name: str
    slug: str
    domain: str
    country: str
    time_zone: str
    languages: list[str]
    mrn_prefix: str
    ready: bool


class OnboardedOut(HospitalOut):
    admin_set_password_link: str
