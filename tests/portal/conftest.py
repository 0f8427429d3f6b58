"""Portal fixtures: the scheduling's clinic (a doctor's week, a treatment, two patients)."""

from tests.scheduling.conftest import clinic, other_doctor  # noqa: F401 - fixtures
