"""The hospital admin's forms. They only type what the browser sends: the rules (lengths, codes,
durations, who may be assigned) are the services', whose refusals the views put next to the
fields."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.selectors import staff_list
from clinical import selectors
from clinical.models import AuditEvent


class AssignmentForm(forms.Form):
    """One of the buttons of the doctors' page: assign the chosen doctor, or unassign one."""

    op = forms.ChoiceField(choices=[("assign", _("Assign")), ("unassign", _("Unassign"))])
    # Any doctor: a deactivated one can still be unassigned; the service refuses to assign them.
    doctor = forms.ModelChoiceField(
        label=_("Doctor"),
        queryset=User.objects.filter(role=Role.DOCTOR),
        error_messages={"required": _("Choose a doctor."), "invalid_choice": _("Not a doctor of this branch.")},
    )


class BreakGlassReviewForm(forms.Form):
    access = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 1}))


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj} ({obj.get_role_display()})"


class AuditFilterForm(forms.Form):
    patient = forms.CharField(label=_("Patient (id or MRN)"), required=False, max_length=64)
    actor = StaffChoiceField(label=_("Who"), queryset=User.objects.none(), required=False, empty_label=_("Anyone"))
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Any action")), *AuditEvent.Action.choices]
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=[("", _("Any outcome")), *AuditEvent.Outcome.choices]
    )
    break_glass = forms.BooleanField(label=_("Break-glass only"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = staff_list()

    def clean_patient(self) -> uuid.UUID | None:
        reference = self.cleaned_data["patient"]
        if not reference:
            return None
        patient_id = selectors.patient_id_for_reference(reference)
        if patient_id is None:
            raise forms.ValidationError(_("No patient has this id or MRN."))
        return patient_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from: dt.date | None = cleaned.get("date_from")
        date_to: dt.date | None = cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("Must not be before the start date."))
        return cleaned

    def selector_arguments(self) -> dict[str, Any]:
        """The filters as ``selectors.audit_events`` takes them (the form must be valid)."""
        data = self.cleaned_data
        return {
            "patient_id": data["patient"],
            "actor_id": data["actor"].pk if data["actor"] else None,
            "action": data["action"],
            "outcome": data["outcome"],
            "break_glass": True if data["break_glass"] else None,
            "date_from": data["date_from"],
            "date_to": data["date_to"],
        }


class TreatmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, widget=forms.TextInput(attrs={"maxlength": 120}))
    code = forms.CharField(label=_("Code"), required=False, widget=forms.TextInput(attrs={"maxlength": 20}))
    duration_minutes = forms.CharField(
        label=_("Default duration (minutes)"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 5, "max": 480}),
    )
    active = forms.BooleanField(label=_("Active"), required=False)

    def service_data(self) -> dict[str, Any]:
        """What ``services.treatment_save`` takes (the form must be valid)."""
        return dict(self.cleaned_data)
