"""Patient accounts: who may act for which patient records, and the invitations that make them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinical.models import USER_KEPT, Patient


class PatientLink(models.Model):
    """A patient account may act for this patient record: their own, a child's, a person they
    care for. Every portal route acts for one linked record, named in the request."""

    class Relationship(models.TextChoices):
        SELF = "self", _("Themselves")
        PARENT = "parent", _("Parent or guardian")
        CARER = "carer", _("Carer")

    # USER_KEPT: users exist in public too, where this table does not (clinical/models.py says more).
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=USER_KEPT, related_name="patient_links")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="account_links")
    relationship = models.CharField(max_length=10, choices=Relationship.choices, default=Relationship.SELF)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+"
    )
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "patient"], name="portal_link_once"),
            # An account is one person's own: it is "self" for one record at most.
            models.UniqueConstraint(fields=["account"], condition=Q(relationship="self"), name="portal_link_one_self"),
        ]

    def __str__(self) -> str:
        return f"account {self.account_id} for patient {self.patient_id}"


class PortalInvite(models.Model):
    """A one-time link to the portal, sent to a registered patient by e-mail or text message.

    The link's token exists only in the message: the row keeps its SHA-256, set when the worker
    sends it. A new invitation of the same patient revokes the earlier ones still open."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Being sent")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="portal_invites")
    channel = models.CharField(max_length=10)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=USER_KEPT, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["patient", "-created_at"], name="portal_invite_patient")]

    def __str__(self) -> str:
        return f"invitation {self.pk} of patient {self.patient_id}"

    @property
    def state(self) -> str:
        if self.accepted_at:
            return self.State.ACCEPTED
        if self.revoked_at:
            return self.State.REVOKED
        if self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.SENT if self.sent_at else self.State.WAITING
