"""The Celery app. Tasks live next to their services (``accounts/tasks.py`` ...) and are sent
by name; this package imports none of the domain apps."""

from __future__ import annotations

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("hospital", task_cls="workers.base:BranchTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
