"""Prescriptions get their PDF's state and a verification code. Existing prescriptions get a
code each (random, unique) and wait to be rendered."""

import secrets

from django.db import migrations, models

import clinical.models


def codes_for_existing(apps, schema_editor):
    Prescription = apps.get_model("clinical", "Prescription")
    for prescription in Prescription.objects.filter(verification_code__isnull=True).only("pk"):
        prescription.verification_code = secrets.token_urlsafe(24)
        prescription.save(update_fields=["verification_code"])


class Migration(migrations.Migration):
    dependencies = [("clinical", "0006_audit_appointment_life")]

    operations = [
        migrations.AddField(
            model_name="prescription",
            name="verification_code",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(codes_for_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="prescription",
            name="verification_code",
            field=models.CharField(
                max_length=64, unique=True, default=clinical.models.verification_code_new, editable=False
            ),
        ),
        migrations.AddField(
            model_name="prescription",
            name="pdf_status",
            field=models.CharField(
                choices=[("pending", "Being prepared"), ("ready", "Ready"), ("failed", "Failed")],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="prescription",
            name="pdf_file",
            field=models.FileField(blank=True, upload_to="prescriptions/"),
        ),
        migrations.AddField(
            model_name="prescription", name="pdf_sha256", field=models.CharField(blank=True, max_length=64)
        ),
        migrations.AddField(model_name="prescription", name="pdf_error", field=models.TextField(blank=True)),
        migrations.AddField(
            model_name="prescription", name="rendered_at", field=models.DateTimeField(blank=True, null=True)
        ),
    ]
