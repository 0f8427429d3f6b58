"""What the dashboard shows of a patient's portal access."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from clinical.models import Patient
from portal.models import PatientLink, PortalInvite


@dataclass(frozen=True)
class PortalStatus:
    links: list[PatientLink]
    invite: PortalInvite | None  # the newest

    @property
    def active_links(self) -> list[PatientLink]:
        return [link for link in self.links if link.account.is_active]

    @property
    def invite_open(self) -> bool:
        return self.invite is not None and self.invite.state in (PortalInvite.State.WAITING, PortalInvite.State.SENT)


def portal_status(patient: Patient) -> PortalStatus:
    links = list(PatientLink.objects.filter(patient=patient).select_related("account").order_by("linked_at", "pk"))
    invite = PortalInvite.objects.filter(patient=patient).order_by("-created_at", "-pk").first()
    return PortalStatus(links=links, invite=invite)


def account_links(account: User) -> list[PatientLink]:
    """The records a patient account acts for, oldest link first."""
    return list(PatientLink.objects.filter(account=account).select_related("patient").order_by("linked_at", "pk"))
