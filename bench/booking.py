"""How many bookings a branch takes per second, and what a hundred desks booking one slot at once see.

    uv run python bench/booking.py [--bookings 800] [--doctors 10] [--threads 4] [--racers 100]
                                   [--workers 2] [--web-threads 4] [--profile]

Runs in a database of its own (created and dropped here) on the configured or embedded
PostgreSQL, in one branch onboarded by the real service, with ``--doctors`` doctors working
every day 08:00-18:00 (branch time) and a 15-minute consultation.

Throughput: ``--bookings`` bookings of distinct slots (every doctor, two per patient) go through
``scheduling.services.appointment_book`` one after another, and then another set of the same
shape from ``--threads`` threads with a connection each. The baseline is the same rows as the
sequential set inserted one by one with ``Appointment.objects.create`` (one INSERT in its own
transaction: no rules, no doctor assignment, no audit), in the same run just before; they are
deleted again before the service books them. Prints bookings/s of each and the ratio.

Race: a gunicorn server run as ``manage.py up`` runs it (``--workers`` processes of
``--web-threads`` gthread threads) on the bench database. ``--racers`` threads wait at a barrier,
then each opens a connection (as a proxy in front of gunicorn would) and POSTs
/api/appointments/ with a receptionist's bearer token: the same doctor and start, a patient each.
Before that the server is warmed up by bookings of other slots, and a booking and a clash are
timed one at a time as the uncontended cost. Prints p50/p95 latency as the clients saw it and as
gunicorn measured it (the difference is time spent waiting for a worker thread), the count of
each status, the CPU the web workers, PostgreSQL and the clients used during the race (from
/proc), then `target: exactly one 201, no status but 201/409, p95 under 200 ms: met` or what was
not, and exits 1 if not met. ``--profile`` also prints where a clash spends its time (cProfile,
in this process).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# This folder comes first on the path of a script run from it, and bench/queue.py would then be
# the standard library's ``queue`` for whatever imports it (psycopg, concurrent.futures).
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HOSPITAL_ENV", "local")

from bench._figures import p50, p95  # noqa: E402 - after the path is set

BENCH_DB = "hospital_bench_booking"
SLUG = "bench"
OPENS, CLOSES = dt.time(8), dt.time(18)
VISIT = dt.timedelta(minutes=15)
SLOTS_A_DAY = (CLOSES.hour - OPENS.hour) * dt.timedelta(hours=1) // VISIT
TARGET_MS = 200.0
# Marks each request in gunicorn's access log with the part of the bench that sent it.
PHASE_HEADER = "X-Bench-Phase"


# --- the branch and what is booked ----------------------------------------------------------------------


@dataclass
class Clinic:
    schema: str
    hospital: Any
    host: str
    desk: Any
    doctors: list[Any]
    treatment: Any


@dataclass(frozen=True)
class Booking:
    patient: Any
    doctor: Any
    start: dt.datetime


def _clinic_open(doctors: int) -> Clinic:
    """The branch, its receptionist, ``doctors`` doctors with their week and the consultation,
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
        staff = [branch.doctor] + [
            staff_invite(
                email=f"doctor{n}@{SLUG}.bench", role=Role.DOCTOR, full_name=f"Dr Number {n}", invited_by=branch.admin
            )
            for n in range(1, doctors)
        ]
        every_day = {weekday: [(OPENS, CLOSES)] for weekday in range(7)}
        for doctor in staff:
            working_hours_set(doctor=doctor, week=every_day, set_by=branch.admin)
        minutes = VISIT // dt.timedelta(minutes=1)
        treatment = treatment_save(data={"name": "Consultation", "code": "CONS", "duration_minutes": minutes})
    return Clinic(
        schema=branch.hospital.schema_name,
        hospital=branch.hospital,
        host=branch.host,
        desk=branch.receptionist,
        doctors=staff,
        treatment=treatment,
    )


def _patients_register(*, label: str, n: int) -> list[Any]:
    """``n`` patients with the fields a booking needs, inserted at once (their registration is
    not what is measured)."""
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


class Diary:
    """Hands out days nobody has booked yet, so that each part of the bench books free slots."""

    def __init__(self, *, first: dt.date, zone: ZoneInfo) -> None:
        self.next_day = first
        self.zone = zone

    def plan(self, *, patients: list[Any], doctors: list[Any], n: int) -> list[Booking]:
        """``n`` bookings of distinct slots: every doctor at each start in turn, the patients in
        turn. A patient comes back only after ``len(patients) // len(doctors)`` starts, so never
        twice at one time when there are at least as many patients as doctors."""
        if len(patients) < len(doctors):
            raise SystemExit("a plan needs at least as many patients as doctors")
        bookings = []
        for i in range(n):
            start_number = i // len(doctors)
            day = self.next_day + dt.timedelta(days=start_number // SLOTS_A_DAY)
            opens = dt.datetime.combine(day, OPENS, tzinfo=self.zone)
            bookings.append(
                Booking(
                    patient=patients[i % len(patients)],
                    doctor=doctors[i % len(doctors)],
                    start=opens + (start_number % SLOTS_A_DAY) * VISIT,
                )
            )
        starts_used = math.ceil(n / len(doctors))
        self.next_day += dt.timedelta(days=math.ceil(starts_used / SLOTS_A_DAY))
        return bookings


# --- throughput in the process ----------------------------------------------------------------------


def _book(clinic: Clinic, booking: Booking) -> None:
    from scheduling.services import appointment_book

    appointment_book(
        patient=booking.patient,
        doctor=booking.doctor,
        treatment=clinic.treatment,
        start=booking.start,
        booked_by=clinic.desk,
    )


def _insert(clinic: Clinic, booking: Booking) -> Any:
    from scheduling.models import Appointment

    return Appointment.objects.create(
        patient=booking.patient,
        doctor=booking.doctor,
        treatment=clinic.treatment,
        start=booking.start,
        end=booking.start + VISIT,
        booked_by=clinic.desk,
    )


def _in_threads(clinic: Clinic, shares: list[list[Booking]]) -> float:
    """Seconds for one thread per share, each with its own connection, to book its share; timed
    from when all of them are ready."""
    from django.db import connection
    from django_tenants.utils import schema_context

    ready = threading.Barrier(len(shares) + 1)
    failures: list[BaseException] = []

    def run(share: list[Booking]) -> None:
        try:
            with schema_context(clinic.schema):
                connection.set_tenant(clinic.hospital)
                ready.wait()
                for booking in share:
                    _book(clinic, booking)
        except BaseException as exc:
            failures.append(exc)
            ready.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"a booking thread failed: {failures[0]!r}")
    return elapsed


@dataclass
class Throughput:
    bookings: int
    threads: int
    inserted_per_second: float
    booked_per_second: float
    booked_in_threads_per_second: float


def _throughput_measure(clinic: Clinic, diary: Diary, *, bookings: int, threads: int) -> Throughput:
    from django.db import connection

    from scheduling.models import Appointment

    doctors = clinic.doctors
    warm_up = diary.plan(patients=_patients_register(label="warm", n=len(doctors) * 2), doctors=doctors, n=40)
    for booking in warm_up[:20]:
        _insert(clinic, booking)
    for booking in warm_up[20:]:
        _book(clinic, booking)

    print(f"throughput: {bookings} rows by Appointment.objects.create, then the same by the service", flush=True)
    plan = diary.plan(patients=_patients_register(label="seq", n=bookings // 2), doctors=doctors, n=bookings)
    started = time.perf_counter()
    inserted = [_insert(clinic, booking) for booking in plan]
    insert_seconds = time.perf_counter() - started
    Appointment.objects.filter(pk__in=[row.pk for row in inserted]).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) scheduling_appointment")
    started = time.perf_counter()
    for booking in plan:
        _book(clinic, booking)
    book_seconds = time.perf_counter() - started

    print(f"throughput: {bookings} more by the service from {threads} threads", flush=True)
    plan = diary.plan(patients=_patients_register(label="par", n=bookings // 2), doctors=doctors, n=bookings)
    threads_seconds = _in_threads(clinic, [plan[i::threads] for i in range(threads)])

    booked = Appointment.objects.filter(status=Appointment.Status.BOOKED).count()
    if booked != len(warm_up) + 2 * bookings:
        raise SystemExit(f"{booked} appointments booked, not {len(warm_up) + 2 * bookings}")
    return Throughput(
        bookings=bookings,
        threads=threads,
        inserted_per_second=bookings / insert_seconds,
        booked_per_second=bookings / book_seconds,
        booked_in_threads_per_second=bookings / threads_seconds,
    )


# --- where the CPU went during the race (Linux /proc) ------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process has used so far; 0 if it is gone."""
    try:
        # After the command name: the state is field 3, utime and stime are fields 14 and 15.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except OSError:
            continue
        if parent == pid:
            children.append(int(entry.name))
    return children


@dataclass
class CpuSnapshot:
    web: dict[int, float]
    database: dict[int, float]
    clients: float


def _cpu_snapshot(web_pid: int) -> CpuSnapshot:
    """CPU used so far by gunicorn's workers, by the PostgreSQL backends of the bench database
    (but this process's own) and by this process, whose threads are the clients."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [pid for (pid,) in cursor.fetchall()]
    used = os.times()
    return CpuSnapshot(
        web={pid: _cpu_seconds(pid) for pid in _children(web_pid)},
        database={pid: _cpu_seconds(pid) for pid in backends},
        clients=used.user + used.system,
    )


@dataclass
class CpuUse:
    wall: float
    web: float
    database: float
    clients: float


def _cpu_used(before: CpuSnapshot, after: CpuSnapshot, answers: list[Answer]) -> CpuUse:
    """CPU seconds each side used between two snapshots; a process that appeared in between
    (a connection opened during the race) counts from zero."""

    def spent(was: dict[int, float], now: dict[int, float]) -> float:
        return sum(seconds - was.get(pid, 0.0) for pid, seconds in now.items())

    return CpuUse(
        wall=max(a.finished for a in answers) - min(a.started for a in answers),
        web=spent(before.web, after.web),
        database=spent(before.database, after.database),
        clients=after.clients - before.clients,
    )


# --- the race over HTTP -----------------------------------------------------------------------------


@dataclass
class WebServer:
    port: int
    pid: int


@contextlib.contextmanager
def _web_server(*, workers: int, threads: int, logs: Path) -> Iterator[WebServer]:
    """gunicorn on the bench database, as ``manage.py up`` runs it, writing each request's phase,
    status and time in the worker (microseconds) to ``logs/access.log``."""
    from config.embedded import free_port, stop_process, wait_for_port
    from config.processes import web_command

    port = free_port()
    log = logs / "web.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            # the platform's web process (config.processes), with an access log the bench reads
            [
                *web_command(bind=f"127.0.0.1:{port}", workers=workers, threads=threads),
                "--access-logfile",
                str(logs / "access.log"),
                "--access-logformat",
                f"%({{{PHASE_HEADER.lower()}}}i)s %(s)s %(D)s",
            ],
            env={**os.environ, "SITE_PORT": str(port), "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log, "the web server")
        yield WebServer(port=port, pid=process.pid)
    finally:
        stop_process(process)


@dataclass
class Answer:
    status: int
    body: bytes
    started: float
    finished: float

    @property
    def ms(self) -> float:
        return (self.finished - self.started) * 1000


def _post(
    port: int, host: str, token: str, phase: str, body: dict | None, path: str = "/api/appointments/", **headers: str
) -> Answer:
    """One request on a connection of its own (a POST with ``body``, else a GET), timed from
    before the connection is opened; ``headers`` are sent too (an Idempotency-Key)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST" if body is not None else "GET",
            path,
            body=json.dumps(body) if body is not None else None,
            headers={
                "Host": host,
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                PHASE_HEADER: phase,
                **headers,
            },
        )
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    return Answer(response.status, content, started, time.perf_counter())


def _body(clinic: Clinic, booking: Booking) -> dict:
    return {
        "patient_id": str(booking.patient.pk),
        "doctor_id": booking.doctor.pk,
        "treatment_id": clinic.treatment.pk,
        "start": booking.start.isoformat(),
    }


def _all_at_once(send: Callable[[Booking], Answer], plan: list[Booking]) -> list[Answer]:
    """One thread per booking, all released together by a barrier."""
    ready = threading.Barrier(len(plan))
    answers: list[Answer] = []
    failures: list[BaseException] = []

    def run(booking: Booking) -> None:
        try:
            ready.wait()
            answers.append(send(booking))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(booking,)) for booking in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"a request failed: {failures[0]!r}")
    return answers


def _server_ms(access_log: Path, phase: str, expected: int) -> list[float]:
    """What gunicorn measured for each request of ``phase``: from the request read by a worker
    thread to the response sent (the access log is written right after)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line.split() for line in access_log.read_text().splitlines()]
        times = [int(micros) / 1000 for name, _status, micros in lines if name == phase]
        if len(times) >= expected or time.monotonic() > deadline:
            return times
        time.sleep(0.05)


def _clashes_profile(clinic: Clinic, token: str, taken: Booking, patients: list[Any]) -> None:
    """Where a clashing booking spends its time: ``taken``'s slot asked again for each of
    ``patients`` through the whole stack with django.test.Client in this process."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_HOST=clinic.host, HTTP_AUTHORIZATION=f"Bearer {token}")
    bodies = [_body(clinic, Booking(patient=p, doctor=taken.doctor, start=taken.start)) for p in patients]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for body in bodies:
        response = client.post("/api/appointments/", body, content_type="application/json")
        if response.status_code != 409:
            raise SystemExit(f"expected 409, got {response.status_code} {response.content[:300]!r}")
    profiler.disable()
    elapsed = (time.perf_counter() - started) * 1000 / len(bodies)
    print(f"--- where a 409 spends its time ({len(bodies)} in this process, {elapsed:.1f} ms each)", flush=True)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(20)


def _statements_per_request(clinic: Clinic, token: str, booking: Booking) -> tuple[int, int]:
    """The statements one booking sends through the whole stack, and those a clash sends: the
    same booking sent twice by django.test.Client in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=clinic.host, HTTP_AUTHORIZATION=f"Bearer {token}")
    counts = []
    for expected in (201, 409):
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/api/appointments/", _body(clinic, booking), content_type="application/json")
        if response.status_code != expected:
            raise SystemExit(f"expected {expected}, got {response.status_code} {response.content[:300]!r}")
        counts.append(len(captured.captured_queries))
    return counts[0], counts[1]


@dataclass
class Timed:
    """Milliseconds per request as the client saw them and as gunicorn measured them."""

    client_ms: list[float]
    server_ms: list[float]


@dataclass
class Race:
    racers: int
    workers: int
    web_threads: int
    statuses: collections.Counter
    race: Timed
    booked: int
    cpu: CpuUse
    # One request at a time, on the same server: what a booking and a clash cost uncontended.
    alone_booked: Timed
    alone_clash: Timed
    statements_booked: int
    statements_clash: int
    # The same crowd on the cheapest signed-in route (the treatments list, one small query):
    # what the machine and the web stack allow before any booking work.
    floor: Timed


def _race(clinic: Clinic, diary: Diary, *, racers: int, workers: int, web_threads: int, profile: bool) -> Race:
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.tokens import tokens_issue
    from scheduling.models import Appointment

    with schema_context(clinic.schema):
        connection.set_tenant(clinic.hospital)
        token = tokens_issue(user=clinic.desk).access
        doctors = clinic.doctors
        warm_up = diary.plan(patients=_patients_register(label="web", n=len(doctors) * 4), doctors=doctors, n=80)
        alone = diary.plan(patients=_patients_register(label="alone", n=len(doctors)), doctors=doctors, n=20)
        alone_clash = [
            Booking(patient=patient, doctor=alone[0].doctor, start=alone[0].start)
            for patient in _patients_register(label="clash", n=20)
        ]
        counted = diary.plan(patients=_patients_register(label="count", n=1), doctors=doctors[:1], n=1)
        racing = _patients_register(label="race", n=racers)
        start = diary.plan(patients=racing[:1], doctors=doctors[:1], n=1)[0].start
        statements_booked, statements_clash = _statements_per_request(clinic, token, counted[0])
    race = [Booking(patient=patient, doctor=doctors[0], start=start) for patient in racing]

    with (
        tempfile.TemporaryDirectory(prefix="bench-booking-") as logs,
        _web_server(workers=workers, threads=web_threads, logs=Path(logs)) as server,
    ):
        access_log = Path(logs) / "access.log"

        def send(phase: str) -> Callable[[Booking], Answer]:
            return lambda booking: _post(server.port, clinic.host, token, phase, _body(clinic, booking))

        def one_at_a_time(phase: str, plan: list[Booking], status: int) -> list[Answer]:
            answers = [send(phase)(booking) for booking in plan]
            if {a.status for a in answers} != {status}:
                raise SystemExit(f"{phase}: expected only {status}, got {[a.status for a in answers]}")
            return answers

        print(f"race: warming up {workers} x {web_threads} web threads with {len(warm_up)} bookings", flush=True)
        for round_start in range(0, len(warm_up), 2 * workers * web_threads):
            answers = _all_at_once(send("warm-up"), warm_up[round_start : round_start + 2 * workers * web_threads])
            refused = [a for a in answers if a.status != 201]
            if refused:
                raise SystemExit(f"a warm-up booking was refused: {refused[0].status} {refused[0].body[:300]!r}")
        alone_booked_answers = one_at_a_time("alone-booked", alone, 201)
        alone_clash_answers = one_at_a_time("alone-clash", alone_clash, 409)

        print(f"race: {racers} bookings of {start.astimezone(diary.zone):%Y-%m-%d %H:%M} at once", flush=True)
        cpu_before = _cpu_snapshot(server.pid)
        answers = _all_at_once(send("race"), race)
        cpu = _cpu_used(cpu_before, _cpu_snapshot(server.pid), answers)
        print(f"race: {racers} requests for the treatments list at once (the floor)", flush=True)
        floor_answers = _all_at_once(
            lambda _booking: _post(server.port, clinic.host, token, "floor", None, "/api/treatments/"), race
        )
        if {a.status for a in floor_answers} != {200}:
            raise SystemExit(f"floor: expected only 200, got {sorted({a.status for a in floor_answers})}")
        server_ms = {
            phase: _server_ms(access_log, phase, expected)
            for phase, expected in (
                ("race", racers),
                ("alone-booked", len(alone)),
                ("alone-clash", len(alone_clash)),
                ("floor", racers),
            )
        }

    with schema_context(clinic.schema):
        connection.set_tenant(clinic.hospital)
        booked = Appointment.objects.filter(doctor=doctors[0], start=start, status=Appointment.Status.BOOKED).count()
        if profile:
            late = _patients_register(label="late", n=100)
            _clashes_profile(clinic, token, race[0], late)
    return Race(
        racers=racers,
        workers=workers,
        web_threads=web_threads,
        statuses=collections.Counter(a.status for a in answers),
        race=Timed([a.ms for a in answers], server_ms["race"]),
        booked=booked,
        cpu=cpu,
        alone_booked=Timed([a.ms for a in alone_booked_answers], server_ms["alone-booked"]),
        alone_clash=Timed([a.ms for a in alone_clash_answers], server_ms["alone-clash"]),
        statements_booked=statements_booked,
        statements_clash=statements_clash,
        floor=Timed([a.ms for a in floor_answers], server_ms["floor"]),
    )


# --- the run ---------------------------------------------------------------------------------------------


def _report(throughput: Throughput, race: Race, *, load_before: float) -> bool:
    """Print the figures; whether the race met its target."""
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before the bench, "
        f"{os.getloadavg()[0]:.1f} now (1 minute)"
    )
    print(
        f"baseline, Appointment.objects.create one row per transaction: "
        f"{throughput.inserted_per_second:7.1f} rows/s ({throughput.bookings} rows)"
    )
    print(
        f"appointment_book, one after another:                     "
        f"{throughput.booked_per_second:7.1f} bookings/s ({throughput.bookings} bookings)"
    )
    print(
        f"appointment_book, {throughput.threads} threads:                               "
        f"{throughput.booked_in_threads_per_second:7.1f} bookings/s ({throughput.bookings} bookings)"
    )
    print(f"ratio baseline / service: {throughput.inserted_per_second / throughput.booked_per_second:.1f}")
    print(
        f"statements per HTTP booking: {race.statements_booked} for a 201, {race.statements_clash} for a 409 "
        f"(django.test.Client in this process)"
    )
    for label, timed in (("a booking", race.alone_booked), ("a clash", race.alone_clash)):
        print(
            f"{label} alone over HTTP: client p50 {p50(timed.client_ms):5.1f} ms, "
            f"server p50 {p50(timed.server_ms):5.1f} ms ({len(timed.client_ms)} one at a time)"
        )
    statuses = ", ".join(f"{count} x {status}" for status, count in sorted(race.statuses.items()))
    print(
        f"race: {race.racers} requests for one slot on gunicorn {race.workers} workers x {race.web_threads} "
        f"threads: {statuses}; {race.booked} appointment booked"
    )
    print(f"race latency at the client: p50 {p50(race.race.client_ms):6.1f} ms  p95 {p95(race.race.client_ms):6.1f} ms")
    print(
        f"race time in the server:    p50 {p50(race.race.server_ms):6.1f} ms  p95 {p95(race.race.server_ms):6.1f} ms "
        f"(the rest is waiting for a worker thread)"
    )
    print(
        f"floor, {race.racers} GET /api/treatments/ at once: client p50 {p50(race.floor.client_ms):6.1f} ms  "
        f"p95 {p95(race.floor.client_ms):6.1f} ms (the web stack alone on this machine)"
    )
    cpu, cpus = race.cpu, os.cpu_count() or 1
    print(
        f"race CPU: {cpu.wall:.2f} s from the first request to the last answer on {cpus} CPUs; used: web workers "
        f"{cpu.web:.2f} s ({cpu.web * 1000 / race.racers:.1f} ms a request), PostgreSQL {cpu.database:.2f} s, "
        f"the clients (this process) {cpu.clients:.2f} s; on {cpus} CPUs that server work alone takes at least "
        f"{(cpu.web + cpu.database) * 1000 / cpus:.0f} ms"
    )
    missed = []
    if race.statuses[201] != 1 or race.booked != 1:
        missed.append(f"{race.statuses[201]} answers 201 and {race.booked} booked, not exactly one")
    others = sorted(status for status in race.statuses if status not in (201, 409))
    if others:
        missed.append(f"other statuses {others}")
    if p95(race.race.client_ms) >= TARGET_MS:
        missed.append(f"p95 {p95(race.race.client_ms):.0f} ms")
    verdict = "met" if not missed else f"NOT met ({'; '.join(missed)})"
    print(f"target: exactly one 201, no status but 201/409, p95 under {TARGET_MS:.0f} ms: {verdict}")
    return not missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=800, help="bookings of each throughput run")
    parser.add_argument("--doctors", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4, help="booking threads of the concurrent throughput run")
    parser.add_argument("--racers", type=int, default=100, help="concurrent requests for the one slot")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--web-threads", type=int, default=4, help="threads of each gunicorn worker")
    parser.add_argument("--profile", action="store_true", help="also print where a clashing booking spends its time")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    from bench._db import bench_database_create, bench_database_drop

    bench_database_create(BENCH_DB)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django_tenants.utils import schema_context

        from core.branch import branch_today, branch_zone

        print("migrating the bench database and the template...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        clinic = _clinic_open(args.doctors)
        with schema_context(clinic.schema):
            connection.set_tenant(clinic.hospital)
            diary = Diary(first=branch_today() + dt.timedelta(days=2), zone=branch_zone())
            throughput = _throughput_measure(clinic, diary, bookings=args.bookings, threads=args.threads)
        race = _race(
            clinic,
            diary,
            racers=args.racers,
            workers=args.workers,
            web_threads=args.web_threads,
            profile=args.profile,
        )
    finally:
        bench_database_drop(BENCH_DB)
    if not _report(throughput, race, load_before=load_before):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
