from __future__ import annotations

import factory

from tenants.models import Domain, Hospital, HospitalGroup


class HospitalGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HospitalGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class HalfMadeHospitalFactory(factory.django.DjangoModelFactory):
    """A branch row as a crash midway through onboarding leaves it: not ready, with a domain."""

    class Meta:
        model = Hospital
        skip_postgeneration_save = True

    group = factory.SubFactory(HospitalGroupFactory)
    slug = factory.Sequence(lambda n: f"halfmade{n}")
    schema_name = factory.LazyAttribute(lambda o: o.slug.replace("-", "_"))
    name = factory.LazyAttribute(lambda o: o.slug.title())
    country = "GB"
    time_zone = "UTC"
    mrn_prefix = "H"
    ready = False

    @factory.post_generation
    def domain(self, create, extracted, **kwargs):
        if create:
            Domain.objects.create(domain=f"{self.slug}.localhost", tenant=self)
