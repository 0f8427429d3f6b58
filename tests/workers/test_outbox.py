"""The outbox: work after a write is sent after commit, kept while Redis is down, never lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from workers.models import OutboxMessage
from workers.outbox import outbox_enqueue, outbox_relay


def test_the_row_is_written_in_the_writers_transaction_and_names_its_branch(stmarys):
    with schema_context(stmarys.schema):
        message = outbox_enqueue("accounts.send_invite", user_id=7)

    assert OutboxMessage.objects.get(pk=message.pk).schema_name == "stmarys"
    assert message.kwargs == {"user_id": 7}


def _failing_write() -> None:
    with transaction.atomic():
        outbox_enqueue("accounts.send_invite", user_id=7)
        raise RuntimeError("the write failed")


def test_a_rolled_back_write_leaves_nothing_to_send(stmarys):
    with schema_context(stmarys.schema), pytest.raises(RuntimeError):
        _failing_write()

    assert not OutboxMessage.objects.filter(kwargs={"user_id": 7}).exists()


def test_messages_wait_while_redis_is_down_and_go_when_it_is_back(stmarys, spare_redis):
    celery_app = spare_redis.celery_app()
    OutboxMessage.objects.all().delete()  # what the session's set-up left (rolled back after the test)
    with schema_context(stmarys.schema):
        message = outbox_enqueue("accounts.send_invite", user_id=7)

    # Redis goes down: the relay keeps the row and says why
    spare_redis.stop()
    assert outbox_relay(celery_app=celery_app) == 0
    message.refresh_from_db()
    assert message.sent_at is None
    assert message.attempts == 1
    assert message.last_error
    assert message.available_at > timezone.now()

    # Redis comes back: the next pass sends it, from the row's branch
    spare_redis.start()
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    assert outbox_relay(celery_app=celery_app) == 1
    message.refresh_from_db()
    assert message.sent_at is not None
    [queued] = spare_redis.queued()
    assert queued["headers"]["task"] == "accounts.send_invite"
    assert queued["headers"]["_schema_name"] == "stmarys"
    assert queued["headers"]["id"] == f"outbox-{message.pk}"

    # and a sent message is not sent again
    assert outbox_relay(celery_app=celery_app) == 0
    assert len(spare_redis.queued()) == 1


def test_the_relay_sends_each_message_from_its_own_branch(stmarys, riverside, spare_redis):
    OutboxMessage.objects.all().delete()
    with schema_context(stmarys.schema):
        outbox_enqueue("accounts.send_invite", user_id=1)
    with schema_context(riverside.schema):
        outbox_enqueue("accounts.send_invite", user_id=1)

    assert outbox_relay(celery_app=spare_redis.celery_app()) == 2

    assert sorted(q["headers"]["_schema_name"] for q in spare_redis.queued()) == ["riverside", "stmarys"]


def test_a_prescription_and_a_booking_made_while_redis_is_down_are_queued_when_it_is_back(stmarys, spare_redis):
    from accounts.models import Role
    from clinical.models import Prescription
    from tests.clinical.conftest import assign, record, register

    celery_app = spare_redis.celery_app()
    OutboxMessage.objects.all().delete()
    spare_redis.stop()
    doctor = stmarys.user(Role.DOCTOR)
    patient = register(stmarys, full_name="Offline Saver")
    assign(stmarys, patient["id"], doctor)
    line = {"medicine": "Paracetamol", "dose": "1 g", "frequency": "every 6 hours", "duration": "3 days"}

    made = record(stmarys, doctor, patient["id"], prescriptions=[line])  # saved: Redis is not needed to save
    booked = _booking_for_reachable_patient(stmarys)  # booked too
    assert outbox_relay(celery_app=celery_app) == 0
    spare_redis.start()
    OutboxMessage.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    sent = outbox_relay(celery_app=celery_app)

    [queued] = spare_redis.queued("pdf")
    assert sent >= 1
    assert queued["headers"]["task"] == "clinical.render_prescription"
    assert queued["headers"]["_schema_name"] == "stmarys"
    [confirmation] = spare_redis.queued("default")
    assert confirmation["headers"]["task"] == "scheduling.send_confirmation"
    assert confirmation["headers"]["_schema_name"] == "stmarys"
    assert str(booked.pk) in json.dumps(confirmation)
    # Only ids travel through the broker: no name, address or medicine.
    for secret in ("Offline", "offline@example.org", "Paracetamol", "OFF0001", patient["mrn"]):
        assert secret not in json.dumps(queued) + json.dumps(confirmation)
    with schema_context(stmarys.schema):
        assert Prescription.objects.get(pk=made["prescription"]["id"]).pdf_status == "pending"


def _booking_for_reachable_patient(branch):
    import datetime as dt

    from accounts.models import Role
    from clinical.models import Patient, Treatment
    from scheduling.models import WorkingHours
    from scheduling.services import appointment_book
    from tests.scheduling.conftest import at, next_weekday

    with schema_context(branch.schema):
        doctor = branch.user(Role.DOCTOR)
        day = next_weekday(2)
        WorkingHours.objects.create(doctor=doctor, weekday=day.weekday(), starts=dt.time(9), ends=dt.time(12))
        patient = Patient.objects.create(
            mrn="OFF0001",
            full_name="Offline Booker",
            name_search="offline booker",
            gender="other",
            date_of_birth=dt.date(1980, 1, 1),
            email="offline@example.org",
            contact_channel="email",
        )
        treatment = Treatment.objects.create(name="Offline visit", code="OFFV", duration_minutes=15)
        desk = branch.user(Role.RECEPTIONIST)
        return appointment_book(patient=patient, doctor=doctor, treatment=treatment, start=at(day, 9), booked_by=desk)
