"""The demo: a hospital group with two branches and one user per role in each.

The same logins on every machine (see README). Refused in production. Each app may add its own
demo data in a ``demo.py`` with ``seed_branch(hospital)``; they are found by name, so this
module imports none of them.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.services import user_role_group_set
from tenants.models import Hospital
from tenants.services import hospital_onboard

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published in the README on purpose
DEMO_GROUP = "Demo Health Group"
DEMO_BRANCHES = [
    {
        "slug": "stmarys",
        "name": "St Mary's Hospital",
        "country": "GB",
        "time_zone": "Europe/London",
        "languages": ["en", "ar"],
        "mrn_prefix": "SM",
    },
    {
        "slug": "riverside",
        "name": "Riverside Clinic",
        "country": "IN",
        "time_zone": "Asia/Kolkata",
        "languages": ["en", "hi"],
        "mrn_prefix": "RV",
    },
]
DEMO_ROLES = [
    (Role.HOSPITAL_ADMIN, "admin", "Alex Admin"),
    (Role.DOCTOR, "doctor", "Dr Dana Doctor"),
    (Role.RECEPTIONIST, "reception", "Riley Reception"),
    (Role.PATIENT, "patient", "Pat Patient"),
]
OPERATOR_USERNAME = "operator"
# Printed at the head of prescriptions.
DEMO_CONTACTS = {
    "stmarys": {
        "address": "12 Harbour Road\nLondon SE1 7PB",
        "contact_phone": "+44 20 7946 0000",
        "contact_email": "reception@stmarys.demo",
    },
    "riverside": {
        "address": "4 Ghat Road, Varanasi\nUttar Pradesh 221001",
        "contact_phone": "+91 542 250 0000",
        "contact_email": "reception@riverside.demo",
    },
}


def demo_logins() -> list[tuple[str, str, str]]:
    """(host, username, role) for every demo login."""
    rows = [(settings.PUBLIC_HOST, OPERATOR_USERNAME, "platform operator")]
    for branch in DEMO_BRANCHES:
        for role, name, _full in DEMO_ROLES:
            rows.append((f"{branch['slug']}.{settings.BASE_DOMAIN}", f"{name}@{branch['slug']}.demo", role.label))
    return rows


def demo_seed(say: Callable[[str], None] = print) -> bool:
    """Seed the demo when the platform has no branch yet, or finish a demo seed that was
    interrupted. Returns whether it seeded anything."""
    if settings.PRODUCTION:
        raise ImproperlyConfigured("The demo seed is refused in production.")
    with schema_context("public"):
        existing = set(Hospital.objects.values_list("slug", flat=True))
        missing = [spec for spec in DEMO_BRANCHES if spec["slug"] not in existing]
        ours = {spec["slug"] for spec in DEMO_BRANCHES}
        if not missing or (existing - ours):  # complete, or a platform with real branches
            return False
        _operator_ensure()
    for spec in missing:
        say(f"  onboarding the demo branch {spec['slug']}...")
        onboarded = hospital_onboard(
            group_name=DEMO_GROUP, admin_email=f"admin@{spec['slug']}.demo", admin_name="Alex Admin", **spec
        )
        Hospital.objects.filter(pk=onboarded.hospital.pk).update(**DEMO_CONTACTS[spec["slug"]])
        onboarded.hospital.refresh_from_db()
        with schema_context(onboarded.hospital.schema_name):
            connection.set_tenant(onboarded.hospital)
            _users_ensure(spec["slug"])
            for seed in _app_seeders():
                seed(onboarded.hospital)
    return True


def _operator_ensure() -> None:
    operator, _created = User.objects.get_or_create(
        username=OPERATOR_USERNAME,
        defaults={
            "email": "operator@platform.demo",
            "full_name": "Platform Operator",
            "is_staff": True,
            "is_superuser": True,
        },
    )
    operator.set_password(DEMO_PASSWORD)
    operator.save()


@transaction.atomic
def _users_ensure(slug: str) -> None:
    for role, name, full_name in DEMO_ROLES:
        email = f"{name}@{slug}.demo"
        user = User.objects.filter(email__iexact=email).first() or User(username=email, email=email, role=role)
        user.full_name = full_name
        user.role = role
        user.set_password(DEMO_PASSWORD)
        user.save()
        user_role_group_set(user=user, role=role)


def _app_seeders() -> list[Callable[[Hospital], None]]:
    seeders = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.demo"
        if config.name == "tenants" or importlib.util.find_spec(module_name) is None:
            continue
        seeders.append(importlib.import_module(module_name).seed_branch)
    return seeders
