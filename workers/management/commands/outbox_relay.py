import time

from django.conf import settings
from django.core.management.base import BaseCommand

from config import heartbeat
from workers.outbox import outbox_relay


class Command(BaseCommand):
    help = "Send pending outbox messages to Celery, again and again until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is pending now, then exit.")

    def handle(self, *args, once=False, **options):
        while True:
            heartbeat.beat("relay")  # read by the container's liveness probe
            try:
                sent = outbox_relay()
            except Exception as exc:  # the database restarting: keep relaying when it is back
                self.stderr.write(f"outbox relay: {exc}")
                sent = 0
            if once:
                self.stdout.write(f"sent {sent}")
                return
            if not sent:
                time.sleep(settings.OUTBOX_RELAY_INTERVAL)
