from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import STAFF_ROLES, Role


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True}))
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    # No default: an admin account is never given by overlooking a pre-filled field.
    role = forms.ChoiceField(
        label=_("Role"), choices=[("", _("Choose a role")), *((r.value, r.label) for r in STAFF_ROLES)]
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=[(r.value, r.label) for r in STAFF_ROLES])


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"), choices=[("", _("Branch default")), *settings.LANGUAGES], required=False
    )


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True}))


__all__ = ["InviteForm", "LanguageForm", "PasswordResetRequestForm", "Role", "RoleForm"]
