from __future__ import annotations

from django.db import connection

from accounts.permissions import BranchTokenAuth


class PlatformOperatorAuth(BranchTokenAuth):
    """Tokens issued on the public host to platform operators (staff users of the public schema)."""

    def authenticate(self, request, token: str):
        if connection.schema_name != "public":
            return None
        user = super().authenticate(request, token)
        return user if user is not None and user.is_staff else None
