from __future__ import annotations

import re
import uuid

from config.logging import request_id_var

# Accept a request id from the ingress only when it looks like one; it ends up in every log line.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class HealthMiddleware:
    """Answers /healthz and /readyz on any host: probes call pods by address, not by name."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from config.views import healthz, readyz

        if request.path == "/healthz":
            return healthz(request)
        if request.path == "/readyz":
            return readyz(request)
        return self.get_response(request)
