"""The record's appointment column becomes a foreign key to scheduling's appointments.

The column (`appointment_id`, a UUID) stays as it is, with its values: only the constraint and
an index are added. Django's state moves from a plain field to the relation. Reversible.
"""

import django.db.models.deletion
from django.db import migrations, models

ADD = """
ALTER TABLE clinical_treatmentrecord
    ADD CONSTRAINT clinical_treatmentrecord_appointment_fk
    FOREIGN KEY (appointment_id) REFERENCES scheduling_appointment (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX clinical_treatmentrecord_appointment_idx ON clinical_treatmentrecord (appointment_id);
"""
DROP = """
DROP INDEX clinical_treatmentrecord_appointment_idx;
ALTER TABLE clinical_treatmentrecord DROP CONSTRAINT clinical_treatmentrecord_appointment_fk;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinical", "0003_treatment_name_unique"),
        ("scheduling", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(ADD, DROP)],
            state_operations=[
                migrations.RemoveField(model_name="treatmentrecord", name="appointment_id"),
                migrations.AddField(
                    model_name="treatmentrecord",
                    name="appointment",
                    field=models.ForeignKey(
                        blank=True,
                        db_column="appointment_id",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="treatment_records",
                        to="scheduling.appointment",
                    ),
                ),
            ],
        ),
    ]
