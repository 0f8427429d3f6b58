"""Health endpoints and the JSON 404 for API paths that do not exist."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    """200 when the database answers. The broker's state is reported but does not fail the check:
    writes keep working while Redis is down (the outbox holds their work)."""
    body: dict = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        body["database"] = "ok"
    except Exception as exc:
        body["database"] = f"unavailable: {exc.__class__.__name__}"
    body["broker"] = _broker_state()
    status = 200 if body["database"] == "ok" else 503
    body["status"] = "ready" if status == 200 else "not ready"
    return JsonResponse(body, status=status)


def _broker_state() -> str:
    from django.conf import settings
    from redis import Redis

    try:
        Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return f"unavailable: {exc.__class__.__name__}"
    return "ok"


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    # Paths keep their trailing slash; one without it (or unknown) gets JSON, never a redirect.
    return JsonResponse({"detail": "Not found."}, status=404)
