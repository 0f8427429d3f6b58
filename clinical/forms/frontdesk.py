"""The front desk's forms: registering a patient and changing a patient's details.

They only carry what was typed to the services, in the shape the API sends
(``clinical.schemas.PatientIn``). Every rule is checked there, once, for the API and the pages
alike; the services' refusals come back here to be put next to the inputs they name.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinical.models import AllergySeverity, ContactChannel, Gender, IdentifierKind, Patient
from core.errors import DomainError

IDENTIFIER_ROWS = 3
AGE_UNITS = [("years", gettext_lazy("years")), ("months", gettext_lazy("months")), ("days", gettext_lazy("days"))]
# Bootstrap's class for each kind of input (text inputs and text areas: form-control).
WIDGET_CLASSES = {"select": "form-select", "checkbox": "form-check-input"}
# "Penicillin: rash (severe)": a severity, if given, closes the line in brackets.
_SEVERITY_AT_END = re.compile(r"\s*\((?P<severity>[^()]*)\)\s*$")

# The service's keys (clinical.permissions.EDITABLE_FIELDS) and the inputs that carry each.
KEY_INPUTS = {
    "full_name": ["full_name", "unidentified"],
    "description": ["description"],
    "gender": ["gender"],
    "date_of_birth": ["date_of_birth", "age_value", "age_unit"],
    "age": ["date_of_birth", "age_value", "age_unit"],
    "phone": ["phone"],
    "email": ["email"],
    "address": ["address"],
    "contact": ["contact_name", "contact_relation", "contact_phone"],
    "reminders": ["reminder_channel", "preferred_language", "reminders_opt_out"],
    "identifiers": [],  # one pair per row, made in __init__
    "allergies": ["allergies"],
    "medical_history": ["chronic_conditions", "current_medication", "history_notes"],
}
# medical_history's keys → the inputs.
HISTORY_INPUTS = {
    "chronic_conditions": "chronic_conditions",
    "current_medication": "current_medication",
    "notes": "history_notes",
}


def _textarea(rows: int = 2) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


def _lines(value: Any) -> str:
    """Browsers send CRLF: compare and store text with plain newlines."""
    return (value or "").replace("\r\n", "\n").strip()


def _severities() -> dict[str, str]:
    """What may be typed in brackets: the stored value or its label, in any case."""
    words = {}
    for value, label in AllergySeverity.choices:
        words[value.casefold()] = value
        words[str(label).casefold()] = value
    return words


def allergies_parse(text: str) -> tuple[list[dict[str, str]], list[int]]:
    """One allergy a line, "substance" or "substance: reaction", optionally "(severe)" at the
    end. Returns the allergies and, for each, its line number (to place an error)."""
    severities = _severities()
    allergies, line_numbers = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        severity = AllergySeverity.UNKNOWN.value
        match = _SEVERITY_AT_END.search(line)
        if match and match["severity"].strip().casefold() in severities:
            severity = severities[match["severity"].strip().casefold()]
            line = line[: match.start()].strip()
        substance, _colon, reaction = line.partition(":")
        allergies.append({"substance": substance.strip(), "reaction": reaction.strip(), "severity": severity})
        line_numbers.append(number)
    return allergies, line_numbers


def allergies_format(patient: Patient) -> str:
    lines = []
    for allergy in patient.allergies.all():
        line = allergy.substance + (f": {allergy.reaction}" if allergy.reaction else "")
        if allergy.severity != AllergySeverity.UNKNOWN:
            line += f" ({allergy.get_severity_display()})".lower()
        lines.append(line)
    return "\n".join(lines)


class PatientForm(forms.Form):
    """Registration (every input) or a change of details (only the inputs of ``keys``, the
    service keys the user's role may change)."""

    full_name = forms.CharField(
        label=gettext_lazy("Full name"),
        required=False,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )
    unidentified = forms.BooleanField(label=gettext_lazy("Unidentified patient (no name known)"), required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        widget=_textarea(),
        help_text=gettext_lazy("For an unidentified patient: how they look, where they were found."),
    )
    gender = forms.ChoiceField(
        label=gettext_lazy("Gender"), required=False, choices=[("", gettext_lazy("Choose")), *Gender.choices]
    )
    date_of_birth = forms.CharField(
        label=gettext_lazy("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    age_value = forms.CharField(
        label=gettext_lazy("or age"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
    )
    age_unit = forms.ChoiceField(label=gettext_lazy("Unit"), required=False, choices=AGE_UNITS, initial="years")
    phone = forms.CharField(
        label=gettext_lazy("Phone"),
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.CharField(label=gettext_lazy("E-mail"), required=False, widget=forms.EmailInput)
    address = forms.CharField(label=gettext_lazy("Address"), required=False, widget=_textarea())
    reminder_channel = forms.ChoiceField(
        label=gettext_lazy("Reminders by"), required=False, choices=ContactChannel.choices, initial=ContactChannel.SMS
    )
    preferred_language = forms.ChoiceField(
        label=gettext_lazy("Language of messages"),
        required=False,
        choices=[("", gettext_lazy("The hospital's")), *settings.LANGUAGES],
    )
    reminders_opt_out = forms.BooleanField(label=gettext_lazy("No reminders"), required=False)
    contact_name = forms.CharField(label=gettext_lazy("Guardian or emergency contact"), required=False)
    contact_relation = forms.CharField(label=gettext_lazy("Relation"), required=False)
    contact_phone = forms.CharField(
        label=gettext_lazy("Contact's phone"), required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    allergies = forms.CharField(
        label=gettext_lazy("Allergies"),
        required=False,
        widget=_textarea(3),
        help_text=gettext_lazy('One a line: "substance" or "substance: reaction", and "(severe)" at the end if known.'),
    )
    chronic_conditions = forms.CharField(label=gettext_lazy("Chronic conditions"), required=False, widget=_textarea())
    current_medication = forms.CharField(label=gettext_lazy("Current medication"), required=False, widget=_textarea())
    history_notes = forms.CharField(label=gettext_lazy("Medical history notes"), required=False, widget=_textarea())

    def __init__(self, *args, keys: set[str] | None = None, identifier_rows: int = IDENTIFIER_ROWS, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = set(KEY_INPUTS) if keys is None else set(keys)
        self.identifier_rows = identifier_rows
        if "identifiers" in self.keys:
            for row in range(identifier_rows):
                self.fields[f"identifier_type_{row}"] = forms.ChoiceField(
                    label=_("Identifier type"),
                    required=False,
                    choices=[("", _("Type")), *IdentifierKind.choices],
                )
                self.fields[f"identifier_value_{row}"] = forms.CharField(
                    label=_("Identifier number"),
                    required=False,
                    widget=forms.TextInput(attrs={"placeholder": _("Number"), "autocomplete": "off"}),
                )
        wanted = {name for key in self.keys for name in KEY_INPUTS.get(key, [])}
        for name in list(self.fields):
            if not name.startswith("identifier_") and name not in wanted:
                del self.fields[name]
        if "full_name" not in self.fields and "allergies" in self.fields:
            self.fields["allergies"].widget.attrs["autofocus"] = True
        for field in self.fields.values():
            kind = getattr(field.widget, "input_type", "")
            field.widget.attrs["class"] = WIDGET_CLASSES.get(kind, "form-control")
        # Where each entry of the lists sent to the service came from, to place its errors.
        self._identifier_rows: list[int] = []
        self._allergy_lines: list[int] = []

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields and "is-invalid" not in self.fields[name].widget.attrs.get("class", ""):
                self.fields[name].widget.attrs["class"] += " is-invalid"

    # --- what is shown -----------------------------------------------------------------------

    @property
    def identifier_pairs(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        if "identifiers" not in self.keys:
            return []
        return [(self[f"identifier_type_{r}"], self[f"identifier_value_{r}"]) for r in range(self.identifier_rows)]

    @property
    def demographics(self) -> bool:
        return "full_name" in self.keys

    @staticmethod
    def initial_for(patient: Patient) -> dict[str, Any]:
        """The inputs as the patient's stored details fill them."""
        initial: dict[str, Any] = {
            "full_name": patient.full_name,
            "unidentified": patient.unidentified,
            "description": patient.description,
            "gender": patient.gender,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "age_unit": "years",
            "phone": patient.phone,
            "email": patient.email,
            "address": patient.address,
            "contact_name": patient.contact_name,
            "contact_relation": patient.contact_relation,
            "contact_phone": patient.contact_phone,
            "reminder_channel": patient.contact_channel,
            "preferred_language": patient.preferred_language,
            "reminders_opt_out": patient.reminders_opt_out,
            "allergies": allergies_format(patient),
            "chronic_conditions": patient.chronic_conditions,
            "current_medication": patient.current_medication,
            "history_notes": patient.history_notes,
        }
        for row, identifier in enumerate(sorted(patient.identifiers.all(), key=lambda i: i.pk)):
            initial[f"identifier_type_{row}"] = identifier.kind
            initial[f"identifier_value_{row}"] = identifier.value
        return initial

    # --- what is sent --------------------------------------------------------------------------

    def service_data(self) -> dict[str, Any]:
        """Everything typed, for ``services.patient_register``."""
        data, self._identifier_rows, self._allergy_lines = self._data_from(self.cleaned_data)
        return data

    def changed_service_data(self, initial: dict[str, Any]) -> dict[str, Any]:
        """Only what differs from ``initial``, for ``services.patient_update``; lists are sent
        whole when anything in them changed."""
        before = self._data_from(initial)[0]
        data = self.service_data()
        return {key: value for key, value in data.items() if before.get(key) != value}

    def _data_from(self, values: dict[str, Any]) -> tuple[dict[str, Any], list[int], list[int]]:
        def text(name: str) -> str:
            return _lines(values.get(name))

        data: dict[str, Any] = {}
        keys = self.keys
        if "full_name" in keys:
            if values.get("unidentified"):
                data["full_name"] = ""
                data["description"] = text("description")
            else:
                data["full_name"] = text("full_name")
        if "gender" in keys:
            data["gender"] = text("gender")
        if "date_of_birth" in keys:
            if text("age_value"):
                data["age"] = {"value": text("age_value"), "unit": text("age_unit") or "years"}
            elif text("date_of_birth"):
                data["date_of_birth"] = text("date_of_birth")
        for key in ("phone", "email", "address"):
            if key in keys:
                data[key] = text(key)
        if "contact" in keys:
            data["contact"] = {
                "name": text("contact_name"),
                "relation": text("contact_relation"),
                "phone": text("contact_phone"),
            }
        if "reminders" in keys:
            data["reminders"] = {
                "channel": text("reminder_channel") or ContactChannel.SMS,
                "language": text("preferred_language"),
                "opt_out": bool(values.get("reminders_opt_out")),
            }
        identifier_rows: list[int] = []
        if "identifiers" in keys:
            identifiers = []
            for row in range(self.identifier_rows):
                kind, value = text(f"identifier_type_{row}"), text(f"identifier_value_{row}")
                if kind or value:
                    identifiers.append({"type": kind, "value": value})
                    identifier_rows.append(row)
            data["identifiers"] = identifiers
        allergy_lines: list[int] = []
        if "allergies" in keys:
            data["allergies"], allergy_lines = allergies_parse(text("allergies"))
        if "medical_history" in keys:
            data["medical_history"] = {key: text(name) for key, name in HISTORY_INPUTS.items()}
        return data, identifier_rows, allergy_lines

    # --- what was refused ----------------------------------------------------------------------

    def service_errors(self, exc: DomainError) -> DomainError:
        """The service's refusals renamed to this form's inputs (for ``form_errors``):
        "contact.phone" is the input contact_phone, "identifiers.1.value" the second row sent."""
        return DomainError.invalid_fields(
            [self._error_target(path or "", message) for path, message in exc.errors or [(exc.field, exc.message)]]
        )

    def _error_target(self, path: str, message: str) -> tuple[str, str]:
        parts = path.split(".")
        head = parts[0]
        if head == "age":
            return "age_value", message
        if head == "contact":
            return f"contact_{parts[1]}" if len(parts) > 1 else "contact_name", message
        if head == "reminders" and len(parts) > 1:
            inputs = {"channel": "reminder_channel", "language": "preferred_language", "opt_out": "reminders_opt_out"}
            return inputs.get(parts[1], "reminder_channel"), message
        if head == "medical_history" and len(parts) > 1:
            return HISTORY_INPUTS.get(parts[1], "history_notes"), message
        if head == "identifiers" and len(parts) == 3 and parts[1].isdigit():
            row = self._identifier_rows[int(parts[1])]
            return f"identifier_{'type' if parts[2] == 'type' else 'value'}_{row}", message
        if head == "allergies" and len(parts) > 1 and parts[1].isdigit():
            line = self._allergy_lines[int(parts[1])]
            return "allergies", _("Line %(n)d: %(message)s") % {"n": line, "message": message}
        if head == "full_name" and self.cleaned_data.get("unidentified") and "description" in self.fields:
            return "description", message
        return path, message
