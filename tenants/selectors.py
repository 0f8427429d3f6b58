from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Hospital


def hospital_list() -> QuerySet[Hospital]:
    return Hospital.objects.select_related("group").prefetch_related("domains").order_by("name")


def hospital_out(hospital: Hospital) -> dict:
    primary = next((d.domain for d in hospital.domains.all() if d.is_primary), "")
    return {
        "id": hospital.pk,
        "group": hospital.group.name,
        "name": hospital.name,
        "slug": hospital.slug,
        "domain": primary,
        "country": hospital.country,
        "time_zone": hospital.time_zone,
        "languages": hospital.languages,
        "mrn_prefix": hospital.mrn_prefix,
        "ready": hospital.ready,
    }
