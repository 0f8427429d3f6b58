from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import Field

from accounts.schemas import Text


class HospitalIn(Schema):
    group: Annotated[Text, Field(max_length=200, description="The hospital group; created if new.")]
    name: Annotated[Text, Field(max_length=200)]
    slug: Annotated[Text, Field(max_length=40, description="Host label and schema name: <slug>.<BASE_DOMAIN>.")]
    country: Annotated[Text, Field(max_length=2, description="ISO 3166 code, e.g. GB; the default for phones.")]
    time_zone: Annotated[Text, Field(max_length=64, description="IANA name, e.g. Europe/London.")]
    admin_email: Annotated[Text, Field(max_length=150)]
    admin_name: Annotated[Text, Field(max_length=200)] = ""
    languages: Annotated[list[Annotated[Text, Field(max_length=10)]], Field(max_length=10)] = ["en"]
    mrn_prefix: Annotated[Text, Field(max_length=8)] = ""
    address: Annotated[Text, Field(max_length=2000)] = ""
    contact_phone: Annotated[Text, Field(max_length=32)] = ""
    contact_email: Annotated[Text, Field(max_length=254)] = ""


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
