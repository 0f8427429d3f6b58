"""Text messages through a pluggable backend, chosen by ``SMS_BACKEND`` (a dotted class path).

The default writes each message to a file (``SMS_FILE_PATH``), like Django's file e-mail
backend, so a laptop and the tests see what would be sent. A provider's backend subclasses
:class:`SmsBackend`; it receives the branch's registered sender id and template id, which
national rules require of bulk senders (India's DLT, for one).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from core.branch import branch_current


@dataclass(frozen=True)
class TextMessage:
    to: str  # E.164
    body: str
    sender_id: str = ""
    template_id: str = ""


class SmsBackend(ABC):
    @abstractmethod
    def send(self, message: TextMessage) -> None:
        """Hand ``message`` to the provider; raise if it was not taken (the task retries)."""


class ConsoleBackend(SmsBackend):
    def send(self, message: TextMessage) -> None:
        print(f"SMS to {message.to} from {message.sender_id or '-'}: {message.body}", flush=True)


class FileBackend(SmsBackend):
    """One JSON line per message, appended to ``SMS_FILE_PATH``."""

    _lock = threading.Lock()

    def send(self, message: TextMessage) -> None:
        path = Path(str(settings.SMS_FILE_PATH))
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": timezone.now().isoformat(), **asdict(message)}, ensure_ascii=False)
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def branch_sms_send(*, to: str, body: str, kind: str) -> None:
    """Send a text message of the current branch: its registered sender id, and the template id
    it registered for this ``kind`` of message ("reminder", "confirmation", "portal_invite")."""
    branch = branch_current()
    template_id = str((branch.sms_template_ids or {}).get(kind, ""))
    sms_send(TextMessage(to=to, body=body, sender_id=branch.sms_sender_id, template_id=template_id))


def sms_send(message: TextMessage) -> None:
    backend: SmsBackend = import_string(str(settings.SMS_BACKEND))()
    backend.send(message)
