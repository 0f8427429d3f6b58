"""A brake on how often one key (an address, an account) may do something, counted in the cache
(Redis). The cache is the branch's: keys are made per schema (django-tenants' ``make_key``)."""

from __future__ import annotations

from django.core.cache import cache


def over_limit(key: str, *, limit: int, window_seconds: int) -> bool:
    """Counts one more for ``key``; whether it is now over ``limit`` in the window that began with
    its first count. If the cache is down the count is lost and the action allowed: the limit is a
    brake, never the only protection."""
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        return False
    # A cache that is down answers None (django-redis, IGNORE_EXCEPTIONS): nothing is counted.
    return isinstance(count, int) and count > limit


def seconds_left(key: str, *, window_seconds: int) -> int:
    """How long until ``key``'s window ends (for Retry-After); the whole window if unknown."""
    left = getattr(cache, "ttl", lambda _key: None)(key)
    return left if isinstance(left, int) and 0 < left <= window_seconds else window_seconds
