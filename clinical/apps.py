from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "clinical"
    verbose_name = "Clinical records"
    default_auto_field = "django.db.models.BigAutoField"
