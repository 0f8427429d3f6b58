"""From host name to schema: the first thing every request goes through."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseNotFound, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware

from accounts.middleware import wants_json
from tenants.models import Domain


class BranchMiddleware(TenantMainMiddleware):
    """``BASE_DOMAIN`` serves the platform operators (public schema); ``<slug>.<BASE_DOMAIN>`` a
    branch, once it is ready. Any other host, or a branch still being made, is a 404."""

    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request)
        if hostname == settings.PUBLIC_HOST:
            self.setup_url_routing(request, force_public=True)
            return None
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        if domain is None or not domain.tenant.ready:
            return self._not_found(request)
        tenant = domain.tenant
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def _not_found(request):
        if wants_json(request):
            return JsonResponse({"detail": "No hospital branch at this address."}, status=404)
        return HttpResponseNotFound("No hospital branch at this address.", content_type="text/plain")
