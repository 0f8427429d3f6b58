from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from tenants.models import Domain, Hospital, HospitalGroup
from tenants.services import (
    branch_settings_validate,
    hospital_onboard,
    onboarding_normalise,
    onboarding_validate,
)


@admin.register(HospitalGroup)
class HospitalGroupAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


class HospitalOnboardForm(forms.ModelForm):
    admin_email = forms.EmailField(label=_("First hospital admin's e-mail"))

    def clean(self):
        data = super().clean()
        slug, country, languages, mrn_prefix = onboarding_normalise(
            slug=data.get("slug", ""),
            country=data.get("country", ""),
            languages=data.get("languages"),
            mrn_prefix=data.get("mrn_prefix", ""),
        )
        try:
            onboarding_validate(
                name=data.get("name", ""),
                slug=slug,
                country=country,
                time_zone=data.get("time_zone", ""),
                languages=languages,
                admin_email=data.get("admin_email", ""),
                mrn_prefix=mrn_prefix,
                address=data.get("address", ""),
                contact_phone=data.get("contact_phone", ""),
                contact_email=data.get("contact_email", ""),
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    class Meta:
        model = Hospital
        fields = [
            "group",
            "name",
            "slug",
            "country",
            "time_zone",
            "languages",
            "mrn_prefix",
            "address",
            "contact_phone",
            "contact_email",
        ]


class HospitalChangeForm(forms.ModelForm):
    class Meta:
        model = Hospital
        fields = [
            "name",
            "group",
            "country",
            "time_zone",
            "languages",
            "address",
            "contact_phone",
            "contact_email",
            "mrn_prefix",
            "break_glass_hours",
            "logo",
        ]
        # Reminders, quiet hours, SMS ids and desk printing are the branch's admins' to set, on
        # their own page (checked there, and recorded in the branch's security log).

    def clean(self):
        data = super().clean()
        try:
            branch_settings_validate(
                country=(data.get("country") or "").upper(),
                time_zone=data.get("time_zone", ""),
                languages=data.get("languages") or [],
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(Hospital)
class HospitalAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "group", "country", "ready", "created_at"]
    list_filter = ["ready", "group"]
    search_fields = ["name", "slug"]
    inlines = [DomainInline]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = HospitalOnboardForm if obj is None else HospitalChangeForm
        return super().get_form(request, obj, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # onboarding refused: back to the form, the message says why
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def has_delete_permission(self, request, obj=None):
        # Deleting a branch deletes its patients' records: not a click in a web form.
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "schema_name", "ready"] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # A new branch goes through the same onboarding as the command and the API.
        data = form.cleaned_data
        try:
            onboarded = hospital_onboard(
                group_name=data["group"].name,
                name=data["name"],
                slug=data["slug"],
                country=data["country"],
                time_zone=data["time_zone"],
                admin_email=data["admin_email"],
                languages=data["languages"],
                mrn_prefix=data["mrn_prefix"],
                address=data["address"],
                contact_phone=data["contact_phone"],
                contact_email=data["contact_email"],
            )
        except DomainError as exc:  # e.g. the slug was taken a moment ago
            messages.error(request, exc.message)
            return
        obj.pk = onboarded.hospital.pk
        messages.info(
            request, _("Branch ready. The admin's set-password link: %(link)s") % {"link": onboarded.set_password_link}
        )
