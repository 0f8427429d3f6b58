"""The MRN sequence, and the trigger that keeps the audit trail append-only.

Both are created unqualified: a branch's migrations run with its own schema first on the
search path, so they land in that schema (and the template's copy carries them to clones).
Reversible: the reverse drops exactly what the forward made.
"""

from django.db import migrations

MRN_SEQUENCE = """
CREATE SEQUENCE clinical_mrn AS bigint START WITH 1 MINVALUE 1 NO CYCLE;
"""

AUDIT_GUARD = """
CREATE FUNCTION clinical_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER clinical_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON clinical_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinical_audit_refuse_change();
CREATE TRIGGER clinical_audit_no_truncate
    BEFORE TRUNCATE ON clinical_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION clinical_audit_refuse_change();
"""

AUDIT_GUARD_REVERSE = """
DROP TRIGGER clinical_audit_no_truncate ON clinical_auditevent;
DROP TRIGGER clinical_audit_no_update_delete ON clinical_auditevent;
DROP FUNCTION clinical_audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial")]

    operations = [
        migrations.RunSQL(MRN_SEQUENCE, "DROP SEQUENCE clinical_mrn;"),
        migrations.RunSQL(AUDIT_GUARD, AUDIT_GUARD_REVERSE),
    ]
