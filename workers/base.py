"""Task base classes.

``BranchTask`` runs in the branch that sent it (the schema travels in the message header,
stamped by tenant-schemas-celery from the connection at send time) and refuses ``public``:
a task sent without a branch would otherwise run against the public schema, where users exist
too. ``PlatformTask`` is for the few tasks that work across branches (the beat fan-out).
"""

from __future__ import annotations

import logging

from django.db import connection
from django_tenants.utils import schema_exists
from tenant_schemas_celery.task import TenantTask

from config.logging import request_id_var

logger = logging.getLogger(__name__)


class WrongSchemaError(RuntimeError):
    pass


class _LoggedTask(TenantTask):
    """Log lines written while the task runs carry its id where a request's would be."""

    abstract = True

    def __call__(self, *args, **kwargs):
        token = request_id_var.set(self.request.id or "-")
        try:
            return super().__call__(*args, **kwargs)
        finally:
            request_id_var.reset(token)


class BranchTask(_LoggedTask):
    abstract = True

    def __call__(self, *args, **kwargs):
        schema = connection.schema_name
        if schema == "public":
            logger.error("refusing to run %s in the public schema", self.name)
            raise WrongSchemaError(f"{self.name} must run in a branch, not in public")
        # The branch's row may come from the worker's cache after the branch was removed; in a
        # schema that is gone, PostgreSQL would quietly find the tables of public instead.
        if not schema_exists(schema):
            logger.error("refusing to run %s: the branch's schema is gone", self.name)
            raise WrongSchemaError(f"{self.name}: the schema {schema} does not exist")
        return super().__call__(*args, **kwargs)


class PlatformTask(_LoggedTask):
    abstract = True
