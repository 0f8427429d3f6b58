from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A task to send, written in the same transaction as the change that needs it.

    The table lives in the public schema and is written from a branch's transaction through the
    search path, so one relay serves every branch. A row names its branch and carries ids only,
    never patient data.
    """

    schema_name = models.CharField(max_length=63)
    task_name = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["available_at"], name="outbox_pending", condition=models.Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} in {self.schema_name} (#{self.pk})"
