"""How fast a branch's desks issue queue tokens and its doctors call them, none given twice or lost.

    uv run python bench/queue.py [--visits 300] [--booked 120] [--doctors 10] [--desks 40]
                                 [--workers 2] [--web-threads 4] [--consult-ms 100] [--idle-ms 200]

Runs in a database of its own (created and dropped here) on the configured or embedded
PostgreSQL, in one branch onboarded by the real service, with ``--doctors`` doctors working two
sessions every day, 00:00-12:00 and 12:00-23:59:59 (branch time), so that "now" is always in one
of them, and a 10-minute consultation. The doctors and ``--desks`` receptionists are staff
invited by the real service; each of them is one client with a bearer token of their own.

The morning: ``--visits`` arrivals in a seeded random order. ``--booked`` of them are visits of
today booked beforehand by ``scheduling.services.appointment_book`` (staff's override: some start
before now, so their patients arrive late, the rest at and after now), the doctors in turn, and
are checked in (POST /api/queue/check-ins/: a B token, or L when late); the others are walk-ins
(POST /api/queue/walk-ins/ with an Idempotency-Key, as a desk sends it: a W token), the doctors
in turn. Every arrival is a patient of their own.

A gunicorn server is run as ``manage.py up`` runs it (``--workers`` processes of
``--web-threads`` gthread threads; bench/booking.py's server, access log and CPU readings) and
warmed up. Then ``--desks`` receptionist threads and one thread per doctor start together, 50
clients by default. A desk takes the next arrival from the shared list and sends it, with no
pause, until the list is empty. A doctor sends POST /api/queue/doctors/{id}/call-next/ (which
finishes whom they had and calls the next one): after calling someone they wait ``--consult-ms``
(the consultation, compressed); when no one was waiting they look at their queue (GET
/api/queue/?doctor=ID) and wait ``--idle-ms``. A doctor stops at a call that called no one and
was sent after the last desk had its answer, so that call finished their last patient (or after
three minutes, which fails the target); then they look at their queue once more. Each request
goes on a connection of its own (as a proxy in front of gunicorn would open it), timed from
before the connection is opened.

Prints, per action, the count, the statuses, p50/p95/max at the client and p50/p95 as gunicorn
measured it (the difference is time spent waiting for a worker thread); tokens per second
(tokens issued over the time from the first arrival sent to the last answered, the doctors
calling meanwhile) and visits finished per second (to the last call that finished one); the
statements each action sends (django.test.Client in this process, after the morning); the CPU
the web workers, PostgreSQL and the clients used. Then, from the answers and the database:
duplicates (entries beyond the first with one doctor, day, session and token; tokens answered to
two arrivals; entries called more than once) and lost (arrivals answered 201 without an entry;
numbers a counter gave without an entry: the counter moved and no token was made; entries still
waiting at the end; entries called but never finished); the entries per final state and what the
doctors' last look at their queues showed. Then `target: every arrival 201 and every call 200,
duplicates 0, lost 0: met` or what was not, and exits 1 if not met. There is no baseline.

Run it at least five minutes before the branch's midnight (Europe/London): tokens are numbered
per day, and a morning that crossed midnight would leave yesterday's patients waiting. Closer to
it, the bench waits until the day has turned.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on the path, and this file would be the
# standard library's ``queue`` for whatever imports it (concurrent.futures, through asgiref).
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HOSPITAL_ENV", "local")

from bench._figures import p50, p95  # noqa: E402 - after the path is set
from bench.booking import (  # noqa: E402
    Answer,
    CpuUse,
    _cpu_snapshot,
    _cpu_used,
    _post,
    _server_ms,
    _web_server,
)

BENCH_DB = "hospital_bench_queue"
SLUG = "queue"
SESSIONS = [(dt.time(0), dt.time(12)), (dt.time(12), dt.time(23, 59, 59))]
VISIT_MINUTES = 10
# Booked visits of a doctor: the first starts this long before now, the next ones every
# VISIT_MINUTES; with the branch's default 15 minutes' grace the first two arrive late.
FIRST_BOOKED_BEFORE = dt.timedelta(minutes=25)
# How long before the branch's midnight the morning may start.
DAY_LEFT = dt.timedelta(minutes=5)
DEADLINE_SECONDS = 180
ACTIONS = ("walk-in", "check-in", "call-next", "queue")


# --- the branch and its morning ----------------------------------------------------------------------


@dataclass
class Clinic:
    schema: str
    hospital: Any
    host: str
    desks: list[Any]
    doctors: list[Any]
    treatment: Any


@dataclass(frozen=True)
class Arrival:
    """One patient at the desk: a booked visit to check in, or a walk-in for a doctor."""

    doctor_id: int
    patient_id: str
    appointment_id: str | None = None  # booked visits only

    @property
    def action(self) -> str:
        return "check-in" if self.appointment_id else "walk-in"


def _clinic_open(*, doctors: int, desks: int) -> Clinic:
    """The branch, its receptionists and doctors (every day two sessions) and the consultation,
    all made by the real services."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import Role
    from accounts.services import staff_invite
    from bench._db import branch_onboard
    from clinical.services import treatment_save
    from scheduling.services import working_hours_set

    branch = branch_onboard(SLUG)
    with schema_context(branch.hospital.schema_name):
        connection.set_tenant(branch.hospital)

        def invite(role: str, label: str, n: int) -> Any:
            return staff_invite(
                email=f"{label}{n}@{SLUG}.bench", role=role, full_name=f"{label.title()} {n}", invited_by=branch.admin
            )

        staff = [branch.doctor] + [invite(Role.DOCTOR, "doctor", n) for n in range(1, doctors)]
        desk_staff = [branch.receptionist] + [invite(Role.RECEPTIONIST, "desk", n) for n in range(1, desks)]
        every_day = {weekday: SESSIONS for weekday in range(7)}
        for doctor in staff:
            working_hours_set(doctor=doctor, week=every_day, set_by=branch.admin)
        treatment = treatment_save(data={"name": "Consultation", "code": "CONS", "duration_minutes": VISIT_MINUTES})
    return Clinic(
        schema=branch.hospital.schema_name,
        hospital=branch.hospital,
        host=branch.host,
        desks=desk_staff,
        doctors=staff,
        treatment=treatment,
    )


def _patients_register(*, label: str, n: int) -> list[Any]:
    """``n`` patients with the fields a visit needs, inserted at once (their registration is not
    what is measured)."""
    from clinical.models import Gender, Patient
    from clinical.normalise import name_for_search

    names = [f"Patient {label.title()} {number}" for number in range(n)]
    return Patient.objects.bulk_create(
        Patient(
            mrn=f"BENCH-{label.upper()}-{number:05d}",
            full_name=name,
            name_search=name_for_search(name),
            gender=Gender.OTHER,
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=number),
        )
        for number, name in enumerate(names)
    )


def _day_turn_wait() -> None:
    """Sleep into tomorrow if today has less than ``DAY_LEFT`` left (branch time)."""
    from django.utils import timezone

    from core.branch import branch_day_start, branch_today

    midnight = branch_day_start(branch_today() + dt.timedelta(days=1))
    left = midnight - timezone.now()
    if left < DAY_LEFT:
        print(f"the branch's day ends in {left.total_seconds():.0f} s: waiting for it to turn", flush=True)
        time.sleep(left.total_seconds() + 2)


def _visit_book(clinic: Clinic, *, patient: Any, doctor: Any, start: dt.datetime) -> Any:
    """A visit of today booked by the desk at ``start``, kept within today. Some start in the past
    or overlap a neighbour kept within today near midnight: staff book them with an override, as
    a desk entering the day's list would."""
    from core.branch import branch_day_start, branch_today
    from scheduling.services import Override, appointment_book

    today = branch_today()
    first = branch_day_start(today)
    last = branch_day_start(today + dt.timedelta(days=1)) - dt.timedelta(minutes=VISIT_MINUTES)
    return appointment_book(
        patient=patient,
        doctor=doctor,
        treatment=clinic.treatment,
        start=min(max(start, first), last),
        booked_by=clinic.desks[0],
        override=Override(reason="Booked for the bench's morning", overbook=True),
    )


def _morning_plan(clinic: Clinic, *, visits: int, booked: int, seed: int) -> list[Arrival]:
    """Books ``booked`` visits of today by the service, the doctors in turn, and returns them with
    ``visits - booked`` walk-ins (the doctors in turn) in a seeded random order."""
    from django.utils import timezone

    if not 0 <= booked <= visits:
        raise SystemExit("--booked must be between 0 and --visits")
    patients = _patients_register(label="queue", n=visits)
    doctors = clinic.doctors
    first = timezone.now() - FIRST_BOOKED_BEFORE
    arrivals = []
    for n in range(booked):
        start = first + (n // len(doctors)) * dt.timedelta(minutes=VISIT_MINUTES)
        appointment = _visit_book(clinic, patient=patients[n], doctor=doctors[n % len(doctors)], start=start)
        arrivals.append(
            Arrival(
                doctor_id=appointment.doctor_id,
                patient_id=str(appointment.patient_id),
                appointment_id=str(appointment.pk),
            )
        )
    arrivals += [
        Arrival(doctor_id=doctors[n % len(doctors)].pk, patient_id=str(patients[n].pk)) for n in range(booked, visits)
    ]
    random.Random(seed).shuffle(arrivals)  # noqa: S311 - an order, not a secret
    return arrivals


# --- the clients -------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One request of the morning and its answer."""

    action: str
    answer: Answer
    body: dict | None


def _send(port: int, host: str, token: str, phase: str, path: str, body: dict | None, **headers: str) -> Answer:
    """One request on a connection of its own, as bench/booking.py sends them."""
    return _post(port, host, token, phase, body, path, **headers)


def _parsed(answer: Answer) -> dict | None:
    try:
        return json.loads(answer.body)
    except ValueError:
        return None


@dataclass
class Morning:
    sent: list[Sent] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    # Each doctor's queue as the API showed it when they stopped.
    last_looks: dict[int, dict | None] = field(default_factory=dict)
    deadline_hit: bool = False


def _morning_run(
    clinic: Clinic,
    arrivals: list[Arrival],
    *,
    port: int,
    tokens: dict[int, str],
    consult: float,
    idle: float,
) -> Morning:
    """The desks issue every arrival's token while the doctors call them; returns every request
    and its answer once the last doctor has stopped."""
    morning = Morning()
    waiting_at_desk = collections.deque(arrivals)
    desks_done = threading.Event()
    ready = threading.Barrier(len(clinic.desks) + len(clinic.doctors) + 1)
    deadline = time.monotonic() + DEADLINE_SECONDS

    def desk(token: str) -> None:
        ready.wait()
        while True:
            try:
                arrival = waiting_at_desk.popleft()
            except IndexError:
                return
            if arrival.appointment_id:
                body = {"appointment_id": arrival.appointment_id}
                answer = _send(port, clinic.host, token, "check-in", "/api/queue/check-ins/", body)
            else:
                body = {
                    "patient_id": arrival.patient_id,
                    "doctor_id": arrival.doctor_id,
                    "treatment_id": clinic.treatment.pk,
                }
                key = {"Idempotency-Key": str(uuid.uuid4())}
                answer = _send(port, clinic.host, token, "walk-in", "/api/queue/walk-ins/", body, **key)
            morning.sent.append(Sent(arrival.action, answer, _parsed(answer)))

    def look(doctor_id: int, token: str) -> dict | None:
        answer = _send(port, clinic.host, token, "queue", f"/api/queue/?doctor={doctor_id}", None)
        body = _parsed(answer)
        morning.sent.append(Sent("queue", answer, body))
        return body if answer.status == 200 else None

    def doctor(doctor_id: int, token: str) -> None:
        ready.wait()
        path = f"/api/queue/doctors/{doctor_id}/call-next/"
        while time.monotonic() < deadline:
            after_the_desks = desks_done.is_set()
            answer = _send(port, clinic.host, token, "call-next", path, {})
            body = _parsed(answer)
            morning.sent.append(Sent("call-next", answer, body))
            if answer.status == 200 and body and body.get("called"):
                time.sleep(consult)
            elif answer.status == 200 and after_the_desks:
                break
            else:
                look(doctor_id, token)
                time.sleep(idle)
        else:
            morning.deadline_hit = True
        morning.last_looks[doctor_id] = look(doctor_id, token)

    def guarded(work, *args) -> None:
        try:
            work(*args)
        except BaseException as exc:
            morning.failures.append(exc)
            ready.abort()

    desk_threads = [threading.Thread(target=guarded, args=(desk, tokens[user.pk])) for user in clinic.desks]
    doctor_threads = [
        threading.Thread(target=guarded, args=(doctor, user.pk, tokens[user.pk])) for user in clinic.doctors
    ]
    for thread in desk_threads + doctor_threads:
        thread.start()
    ready.wait()
    for thread in desk_threads:
        thread.join()
    desks_done.set()
    for thread in doctor_threads:
        thread.join()
    if morning.failures:
        raise SystemExit(f"a client failed: {morning.failures[0]!r}")
    return morning


def _warm_up(clinic: Clinic, *, port: int, tokens: dict[int, str], requests: int) -> None:
    """Each web thread loads the routes and opens its database connection: ``requests`` looks
    at the doctors' queues at once, twice."""
    doctors = [clinic.doctors[n % len(clinic.doctors)].pk for n in range(requests)]
    answers: list[Answer] = []
    ready = threading.Barrier(requests)

    def look(doctor_id: int) -> None:
        ready.wait()
        path = f"/api/queue/?doctor={doctor_id}"
        answers.append(_send(port, clinic.host, tokens[doctor_id], "warm-up", path, None))

    for _round in range(2):
        threads = [threading.Thread(target=look, args=(doctor_id,)) for doctor_id in doctors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if {a.status for a in answers} != {200}:
        raise SystemExit(f"warm-up: expected only 200, got {sorted(a.status for a in answers)}")


# --- what the database holds afterwards ---------------------------------------------------------------------


@dataclass
class Ledger:
    """Duplicates and losses, from the answers and the database."""

    rows_sharing_a_token: int
    tokens_answered_twice: int
    called_twice: int
    answered_without_entry: int
    numbers_without_entry: int
    never_called: int
    never_finished: int
    entries_not_answered: int
    states: collections.Counter
    kinds: collections.Counter
    appointments: collections.Counter

    @property
    def duplicates(self) -> int:
        return self.rows_sharing_a_token + self.tokens_answered_twice + self.called_twice

    @property
    def lost(self) -> int:
        return self.answered_without_entry + self.numbers_without_entry + self.never_called + self.never_finished


def _ledger_read(clinic: Clinic, morning: Morning) -> Ledger:
    from django.db.models import Count

    from scheduling.models import Appointment, QueueCounter, QueueEntry

    entries = list(QueueEntry.objects.values("id", "doctor_id", "day", "session_start", "kind", "number", "state"))
    shared = (
        QueueEntry.objects.values("doctor_id", "day", "session_start", "token").annotate(n=Count("id")).filter(n__gt=1)
    )
    issued = [s for s in morning.sent if s.action in ("walk-in", "check-in") and s.answer.status == 201 and s.body]
    answered = collections.Counter((s.body["doctor"]["id"], s.body["session_start"], s.body["token"]) for s in issued)
    called = collections.Counter(
        s.body["called"]["id"] for s in morning.sent if s.action == "call-next" and s.body and s.body.get("called")
    )
    entry_ids = {str(entry["id"]) for entry in entries}
    answered_ids = {s.body["id"] for s in issued}

    numbers = collections.defaultdict(set)
    for entry in entries:
        numbers[entry["doctor_id"], entry["day"], entry["session_start"], entry["kind"]].add(entry["number"])
    skipped = 0
    for counter in QueueCounter.objects.all():
        first = clinic.hospital.queue_tokens[counter.kind]["start"]
        given = set(range(first, counter.last + 1))
        skipped += len(given - numbers[counter.doctor_id, counter.day, counter.session_start, counter.kind])

    states = collections.Counter(entry["state"] for entry in entries)
    return Ledger(
        rows_sharing_a_token=sum(group["n"] - 1 for group in shared),
        tokens_answered_twice=sum(n - 1 for n in answered.values()),
        called_twice=sum(n - 1 for n in called.values()),
        answered_without_entry=len(answered_ids - entry_ids),
        numbers_without_entry=skipped,
        never_called=states[QueueEntry.State.WAITING],
        never_finished=states[QueueEntry.State.CALLED] + states[QueueEntry.State.WITH_DOCTOR],
        entries_not_answered=len(entry_ids - answered_ids),
        states=states,
        kinds=collections.Counter(entry["kind"] for entry in entries),
        appointments=collections.Counter(Appointment.objects.values_list("status", flat=True)),
    )


def _statements_per_action(clinic: Clinic) -> dict[str, int]:
    """The statements each action sends through the whole stack, by django.test.Client in this
    process, after the morning: a walk-in and a check-in for the first doctor, who calls next
    twice (the second call, which finishes one patient and calls the other, is counted), then
    looks at the queue."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.tokens import tokens_issue

    doctor = clinic.doctors[0]
    walking, booked = _patients_register(label="count", n=2)
    visit = _visit_book(clinic, patient=booked, doctor=doctor, start=timezone.now())

    def client(user: Any) -> Client:
        return Client(HTTP_HOST=clinic.host, HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=user).access}")

    desk, doctors_own = client(clinic.desks[0]), client(doctor)
    walk_in = {"patient_id": str(walking.pk), "doctor_id": doctor.pk, "treatment_id": clinic.treatment.pk}
    call_next = f"/api/queue/doctors/{doctor.pk}/call-next/"
    steps = [
        ("walk-in", desk, "/api/queue/walk-ins/", walk_in, 201),
        ("check-in", desk, "/api/queue/check-ins/", {"appointment_id": str(visit.pk)}, 201),
        ("first call", doctors_own, call_next, {}, 200),
        ("call-next", doctors_own, call_next, {}, 200),
        ("queue", doctors_own, f"/api/queue/?doctor={doctor.pk}", None, 200),
    ]
    counts = {}
    for action, sender, path, body, expected in steps:
        with CaptureQueriesContext(connection) as captured:
            posted = body is not None
            response = sender.post(path, body, content_type="application/json") if posted else sender.get(path)
        if response.status_code != expected:
            raise SystemExit(f"{action}: expected {expected}, got {response.status_code} {response.content[:300]!r}")
        counts[action] = len(captured.captured_queries)
    return counts


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class Result:
    arrivals: int
    desks: int
    doctors: int
    workers: int
    web_threads: int
    morning: Morning
    server_ms: dict[str, list[float]]
    cpu: CpuUse
    ledger: Ledger
    statements: dict[str, int]


def _queue_measure(
    clinic: Clinic,
    *,
    visits: int,
    booked: int,
    seed: int,
    workers: int,
    web_threads: int,
    consult: float,
    idle: float,
) -> Result:
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.tokens import tokens_issue

    with schema_context(clinic.schema):
        connection.set_tenant(clinic.hospital)
        _day_turn_wait()
        arrivals = _morning_plan(clinic, visits=visits, booked=booked, seed=seed)
        tokens = {user.pk: tokens_issue(user=user).access for user in clinic.desks + clinic.doctors}

    with (
        tempfile.TemporaryDirectory(prefix="bench-queue-") as logs,
        _web_server(workers=workers, threads=web_threads, logs=Path(logs)) as server,
    ):
        print(f"queue: warming up {workers} x {web_threads} web threads", flush=True)
        _warm_up(clinic, port=server.port, tokens=tokens, requests=2 * workers * web_threads)
        print(
            f"queue: {len(clinic.desks)} desks issue {len(arrivals)} tokens ({booked} check-ins, "
            f"{len(arrivals) - booked} walk-ins) while {len(clinic.doctors)} doctors call them",
            flush=True,
        )
        cpu_before = _cpu_snapshot(server.pid)
        morning = _morning_run(clinic, arrivals, port=server.port, tokens=tokens, consult=consult, idle=idle)
        cpu = _cpu_used(cpu_before, _cpu_snapshot(server.pid), [s.answer for s in morning.sent])
        counts = collections.Counter(s.action for s in morning.sent)
        server_ms = {action: _server_ms(Path(logs) / "access.log", action, counts[action]) for action in ACTIONS}

    with schema_context(clinic.schema):
        connection.set_tenant(clinic.hospital)
        ledger = _ledger_read(clinic, morning)
        statements = _statements_per_action(clinic)
    return Result(
        arrivals=len(arrivals),
        desks=len(clinic.desks),
        doctors=len(clinic.doctors),
        workers=workers,
        web_threads=web_threads,
        morning=morning,
        server_ms=server_ms,
        cpu=cpu,
        ledger=ledger,
        statements=statements,
    )


def _percentiles(ms: list[float]) -> str:
    if len(ms) < 2:
        return f"{len(ms)} sample{'' if len(ms) == 1 else 's'} {' '.join(f'{m:.1f} ms' for m in ms)}"
    return f"p50 {p50(ms):6.1f} ms  p95 {p95(ms):6.1f} ms"


def _report(result: Result, *, load_before: float) -> bool:
    """Print the figures; whether the morning met its target."""
    morning, ledger = result.morning, result.ledger
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before the bench, "
        f"{os.getloadavg()[0]:.1f} now (1 minute)"
    )
    print(
        f"morning: {result.arrivals} arrivals at {result.desks} desks, {result.doctors} doctors calling, on gunicorn "
        f"{result.workers} workers x {result.web_threads} threads"
    )
    for action in ACTIONS:
        answers = [s.answer for s in morning.sent if s.action == action]
        if not answers:
            continue
        ms = [a.ms for a in answers]
        statuses = ", ".join(
            f"{n} x {status}" for status, n in sorted(collections.Counter(a.status for a in answers).items())
        )
        server = result.server_ms[action]
        print(
            f"{action:>9}: {len(answers):4d} ({statuses}); client {_percentiles(ms)}  max {max(ms):6.1f} ms; "
            f"server {_percentiles(server)}"
        )

    arrivals = [s for s in morning.sent if s.action in ("walk-in", "check-in")]
    issued = [s for s in arrivals if s.answer.status == 201]
    began = min(s.answer.started for s in arrivals)
    issuing = max(s.answer.finished for s in arrivals) - began
    print(
        f"tokens: {len(issued)} issued in {issuing:.2f} s: {len(issued) / issuing:.1f} tokens/s "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(ledger.kinds.items()))}), the doctors calling meanwhile"
    )
    finishing = [
        s.answer.finished
        for s in morning.sent
        if s.action == "call-next" and s.answer.status == 200 and s.body and s.body.get("finished")
    ]
    finished = sum(
        len(s.body["finished"]) for s in morning.sent if s.action == "call-next" and s.body and s.answer.status == 200
    )
    if finishing:
        whole = max(finishing) - began
        print(f"visits: {finished} finished in {whole:.2f} s from the first arrival: {finished / whole:.1f} visits/s")
    calls = [s for s in morning.sent if s.action == "call-next" and s.answer.status == 200 and s.body]
    print(
        f"calls: {sum(1 for s in calls if s.body.get('called'))} called a patient, "
        f"{sum(1 for s in calls if not s.body.get('called'))} found no one waiting"
    )
    print(
        f"statements per request: {', '.join(f'{action} {result.statements[action]}' for action in ACTIONS)} "
        f"(django.test.Client in this process, after the morning)"
    )
    cpu, cpus = result.cpu, os.cpu_count() or 1
    print(
        f"CPU: {cpu.wall:.2f} s from the first request to the last answer on {cpus} CPUs; used: web workers "
        f"{cpu.web:.2f} s ({cpu.web * 1000 / len(morning.sent):.1f} ms a request), PostgreSQL {cpu.database:.2f} s, "
        f"the clients (this process) {cpu.clients:.2f} s"
    )
    print(
        f"duplicates: {ledger.duplicates} (entries sharing a doctor, day, session and token: "
        f"{ledger.rows_sharing_a_token}; tokens answered to two arrivals: {ledger.tokens_answered_twice}; "
        f"entries called more than once: {ledger.called_twice})"
    )
    print(
        f"lost: {ledger.lost} (answered 201 without an entry: {ledger.answered_without_entry}; numbers given "
        f"without an entry: {ledger.numbers_without_entry}; never called: {ledger.never_called}; called, never "
        f"finished: {ledger.never_finished})"
    )
    print(
        f"entries by final state: {', '.join(f'{n} {state}' for state, n in sorted(ledger.states.items()))}; "
        f"entries no arrival was answered with: {ledger.entries_not_answered}; appointments: "
        f"{', '.join(f'{n} {status}' for status, n in sorted(ledger.appointments.items()))}"
    )
    looks = [look for look in morning.last_looks.values() if look]
    to_see = sum(len(look[part]) for look in looks for part in ("current", "waiting", "skipped"))
    print(
        f"the doctors' last look at their queues (GET /api/queue/): {to_see} still to see, "
        f"{sum(len(look['finished']) for look in looks)} finished ({len(looks)} of {result.doctors} doctors answered)"
    )

    missed = []
    refused = [s for s in arrivals if s.answer.status != 201]
    if refused:
        missed.append(
            f"{len(refused)} arrivals not 201, first {refused[0].answer.status} {refused[0].answer.body[:200]!r}"
        )
    not_200 = [s for s in morning.sent if s.action in ("call-next", "queue") and s.answer.status != 200]
    if not_200:
        missed.append(
            f"{len(not_200)} calls not 200, first {not_200[0].answer.status} {not_200[0].answer.body[:200]!r}"
        )
    if ledger.duplicates:
        missed.append(f"{ledger.duplicates} duplicates")
    if ledger.lost:
        missed.append(f"{ledger.lost} lost")
    if morning.deadline_hit:
        missed.append(f"the doctors stopped at the {DEADLINE_SECONDS} s deadline")
    verdict = "met" if not missed else f"NOT met ({'; '.join(missed)})"
    print(f"target: every arrival 201 and every call 200, duplicates 0, lost 0: {verdict}")
    return not missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300, help="arrivals of the morning")
    parser.add_argument("--booked", type=int, default=120, help="of them booked visits checked in; the rest walk in")
    parser.add_argument("--doctors", type=int, default=10)
    parser.add_argument("--desks", type=int, default=40, help="receptionist clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--web-threads", type=int, default=4, help="threads of each gunicorn worker")
    parser.add_argument("--consult-ms", type=int, default=100, help="a doctor's pause after calling a patient")
    parser.add_argument("--idle-ms", type=int, default=200, help="a doctor's pause when no one was waiting")
    parser.add_argument("--seed", type=int, default=1, help="the order the patients arrive in")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    from bench._db import bench_database_create, bench_database_drop

    bench_database_create(BENCH_DB)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        print("migrating the bench database and the template...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        clinic = _clinic_open(doctors=args.doctors, desks=args.desks)
        result = _queue_measure(
            clinic,
            visits=args.visits,
            booked=args.booked,
            seed=args.seed,
            workers=args.workers,
            web_threads=args.web_threads,
            consult=args.consult_ms / 1000,
            idle=args.idle_ms / 1000,
        )
    finally:
        bench_database_drop(BENCH_DB)
    if not _report(result, load_before=load_before):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
