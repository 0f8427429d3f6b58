"""The doctor's forms: the record (new or corrected) with its prescription lines, break-glass.

The forms only read what was typed; the rules (what a record needs, what an ICD-10 code looks
like, how long a reason must be) are the services', so the page and the API refuse alike.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from clinical.models import Treatment, TreatmentRecord
from core.errors import DomainError

LINE_FIELDS = ("medicine", "strength", "dose", "frequency", "duration", "instructions")
# The service names a field as the API does; the form may call it otherwise.
_FORM_FIELD_OF = {
    "treatment_id": "treatment",
    "follow_up": "follow_up_in_days",
    "follow_up.in_days": "follow_up_in_days",
    "follow_up.on": "follow_up_on",
    "follow_up.note": "follow_up_note",
}


class _Bootstrap:
    """Bootstrap's look: ``.is-invalid`` on a widget once its field has an error (the form's
    own checks and the service's refusals alike go through ``add_error``)."""

    def add_error(self, field, error) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            widget = self.fields[name].widget if name in self.fields else None  # type: ignore[attr-defined]
            if widget is not None and "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


def _text(rows: int = 0, **attrs: Any) -> forms.Widget:
    if rows:
        return forms.Textarea(attrs={"class": "form-control", "rows": rows, **attrs})
    return forms.TextInput(attrs={"class": "form-control", **attrs})


class RecordForm(_Bootstrap, forms.Form):
    treatment = forms.ModelChoiceField(
        label=_("Treatment"),
        queryset=Treatment.objects.filter(active=True),
        required=False,
        empty_label=_("None from the catalogue"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    diagnosis = forms.CharField(label=_("Diagnosis"), required=False, widget=_text(rows=2, autofocus=True))
    icd10_code = forms.CharField(
        label=_("ICD-10 code"),
        required=False,
        widget=_text(placeholder="J45.901", autocomplete="off", spellcheck="false"),
    )
    clinical_notes = forms.CharField(label=_("Clinical notes"), required=False, widget=_text(rows=4))
    patient_advice = forms.CharField(
        label=_("Advice for the patient"),
        required=False,
        help_text=_("Printed on the prescription and shown in the patient portal."),
        widget=_text(rows=2),
    )
    follow_up_in_days = forms.IntegerField(
        label=_("Follow-up in (days)"),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control", "min": 1, "inputmode": "numeric"}),
    )
    follow_up_on = forms.DateField(
        label=_("or on"),
        required=False,
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
    )
    follow_up_note = forms.CharField(
        label=_("Note for the front desk"),
        required=False,
        help_text=_("Shown to reception on the list of visits to book."),
        widget=_text(placeholder=_("e.g. a 20-minute visit, after the blood test")),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("follow_up_in_days") is not None and cleaned.get("follow_up_on"):
            self.add_error("follow_up_on", _("Give a number of days or a date, not both."))
        return cleaned

    # Shown only after the service has named a clash with a recorded allergy.
    allergy_acknowledged = forms.BooleanField(required=False)

    def record_data(self, lines: list[PrescriptionLineForm]) -> dict[str, Any]:
        """What the record services take (the API's RecordFieldsIn)."""
        c = self.cleaned_data
        follow_up = None
        if c["follow_up_in_days"] is not None or c["follow_up_on"] or c["follow_up_note"]:
            follow_up = {"in_days": c["follow_up_in_days"], "on": c["follow_up_on"], "note": c["follow_up_note"]}
        return {
            "treatment_id": c["treatment"].pk if c["treatment"] else None,
            "diagnosis": c["diagnosis"],
            "icd10_code": c["icd10_code"],
            "clinical_notes": c["clinical_notes"],
            "patient_advice": c["patient_advice"],
            "follow_up": follow_up,
            "prescriptions": [line.cleaned_data for line in lines],
            "allergy_acknowledged": c["allergy_acknowledged"],
        }


class CorrectionForm(RecordForm):
    correction_reason = forms.CharField(
        label=_("Reason for correction"), required=False, widget=_text(rows=2, autofocus=True)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The reason comes first: it is what a correction asks that a record does not.
        self.fields["diagnosis"].widget.attrs.pop("autofocus", None)


def _cell(label: str, **attrs: Any) -> forms.Widget:
    return forms.TextInput(attrs={"class": "form-control form-control-sm", "aria-label": label, **attrs})


class PrescriptionLineForm(_Bootstrap, forms.Form):
    """One medicine. Every line of the page posts the same names (``line-medicine``, ...):
    a line removed in the browser leaves no gap to account for, and the lines arrive in the
    order they are shown."""

    prefix = "line"

    medicine = forms.CharField(
        label=_("Medicine (generic name)"),
        required=False,
        widget=_cell(_("Medicine (generic name)"), placeholder=_("generic name")),
    )
    strength = forms.CharField(label=_("Strength"), required=False, widget=_cell(_("Strength")))
    dose = forms.CharField(label=_("Dose"), required=False, widget=_cell(_("Dose")))
    frequency = forms.CharField(label=_("Frequency"), required=False, widget=_cell(_("Frequency")))
    duration = forms.CharField(label=_("Duration"), required=False, widget=_cell(_("Duration")))
    instructions = forms.CharField(label=_("Instructions"), required=False, widget=_cell(_("Instructions")))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Many lines share the names: no element ids (they would repeat), an aria-label each.
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)


def prescription_lines(post: QueryDict) -> list[PrescriptionLineForm]:
    """The lines as typed, bound; lines left wholly blank are dropped."""
    columns = [post.getlist(f"line-{name}") for name in LINE_FIELDS]
    lines = []
    for values in zip_longest(*columns, fillvalue=""):
        if any(value.strip() for value in values):
            line = PrescriptionLineForm(data={f"line-{n}": v for n, v in zip(LINE_FIELDS, values, strict=True)})
            line.is_valid()
            lines.append(line)
    return lines


def record_errors(form: RecordForm, lines: list[PrescriptionLineForm], exc: DomainError) -> None:
    """Put a service's refusals next to what they name: ``prescriptions.1.dose`` on the dose
    of the second line, ``follow_up.on`` on the date; the rest above the form."""
    for name, message in exc.errors or [(exc.field or "", exc.message)]:
        parts = (name or "").split(".")
        if parts[0] == "prescriptions" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(lines):
            line = lines[int(parts[1])]
            line.add_error(parts[2] if parts[2] in line.fields else None, message)
            continue
        field = _FORM_FIELD_OF.get(name or "", name)
        form.add_error(field if field in form.fields else None, message)


# --- drafts: what was typed, kept as typed --------------------------------------------------------


def draft_data(post: QueryDict, form_class: type[RecordForm]) -> dict[str, Any]:
    """The form's state as JSON, unchecked: a draft may be half typed."""
    data: dict[str, Any] = {name: post.get(name, "") for name in form_class.base_fields}
    columns = [post.getlist(f"line-{name}") for name in LINE_FIELDS]
    data["prescriptions"] = [
        dict(zip(LINE_FIELDS, values, strict=True))
        for values in zip_longest(*columns, fillvalue="")
        if any(value.strip() for value in values)
    ]
    return data


def draft_initial(data: dict[str, Any]) -> tuple[dict[str, Any], list[PrescriptionLineForm]]:
    """A form's initial values and lines from a stored draft."""
    fields = {name: value for name, value in data.items() if name != "prescriptions" and isinstance(value, str)}
    lines = [
        PrescriptionLineForm(initial={n: str(line.get(n, "")) for n in LINE_FIELDS})
        for line in data.get("prescriptions") or []
        if isinstance(line, dict)
    ]
    return fields, lines


def record_initial(record: TreatmentRecord) -> tuple[dict[str, Any], list[PrescriptionLineForm]]:
    """A form's initial values and lines from a record's version (what a correction starts from)."""
    fields = {
        "treatment": record.treatment_id,
        "diagnosis": record.diagnosis,
        "icd10_code": record.icd10_code,
        "clinical_notes": record.clinical_notes,
        "patient_advice": record.patient_advice,
        "follow_up_on": record.follow_up_on,
        "follow_up_note": record.follow_up_note,
    }
    prescription = getattr(record, "prescription", None)
    lines = [
        PrescriptionLineForm(initial={n: getattr(line, n) for n in LINE_FIELDS})
        for line in (prescription.lines.all() if prescription else [])
    ]
    return fields, lines


def lines_of(record: TreatmentRecord | None) -> list[dict[str, str]]:
    """A record's prescription lines as plain values: what "Repeat" copies into the form."""
    prescription = getattr(record, "prescription", None)
    return [{n: getattr(line, n) for n in LINE_FIELDS} for line in (prescription.lines.all() if prescription else [])]


class BreakGlassForm(_Bootstrap, forms.Form):
    reason = forms.CharField(
        label=_("Why do you need this patient's record?"), required=False, widget=_text(rows=3, autofocus=True)
    )
