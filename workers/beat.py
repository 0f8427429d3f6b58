"""Celery beat's scheduler, with a heartbeat: beat answers no request, so its liveness probe
reads the age of the file it touches on every tick (config.heartbeat)."""

from __future__ import annotations

from celery.beat import PersistentScheduler

from config import heartbeat


class HeartbeatScheduler(PersistentScheduler):
    def tick(self, *args, **kwargs):
        heartbeat.beat("beat")
        return super().tick(*args, **kwargs)
