from __future__ import annotations

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field


class LinkedPatientOut(Schema):
    id: uuid.UUID = Field(description="Name it in the portal routes that act for a patient.")
    mrn: str
    full_name: str
    date_of_birth: dt.date | None
    relationship: str = Field(description="self, parent or carer.")


class PortalMeOut(Schema):
    username: str
    full_name: str
    preferred_language: str
    patients: list[LinkedPatientOut] = Field(description="The records this account acts for, oldest link first.")
