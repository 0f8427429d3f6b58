"""The client's address, for lockout and the security log.

Behind an ingress every request comes from the proxy: ``TRUSTED_PROXY_COUNT`` says how many
proxies of ours stand in front, and the address is read from ``X-Forwarded-For`` that many hops
from the right (entries further left are whatever the client chose to send). With no trusted
proxy the header is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    address = address.strip()
    # Some proxies append the port: "203.0.113.7:51234", "[2001:db8::1]:443".
    if address.startswith("["):
        address = address[1:].split("]", 1)[0]
    elif address.count(":") == 1:
        address = address.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    remote = _valid(request.META.get("REMOTE_ADDR", "") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    return _valid(forwarded[-proxies]) or remote
