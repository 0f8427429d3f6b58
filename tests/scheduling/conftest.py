from tests.clinical.conftest import other_doctor  # noqa: F401 - a fixture shared with the clinical tests
