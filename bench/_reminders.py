"""Part (b) of ``bench/workers.py``: appointment reminders at scale, through the real pipeline.

``BRANCHES`` branches are onboarded by the real service, each with ``VISITS`` booked visits whose
two-hour reminder is due; a default worker started as ``manage.py up`` starts it and the outbox
relay deliver them into a scratch directory; the scan is fanned out to every branch twice at
once (a doubled beat), so that two scans of one branch race. What was delivered is counted per
visit: `duplicates: N` and `missed: N` must both be 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._figures import p50, p95

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = 20
VISITS = 500
SLUG_PREFIX = "reminders"
# The two-hour reminder (of the default offsets, a day and two hours) is due for every visit:
# they start 65 to 115 minutes from the bench's now, booked three hours before their start (so
# the day-before one was due before the booking and is not sent).
FIRST_START = dt.timedelta(minutes=65)
LAST_START = dt.timedelta(minutes=115)
BOOKED_BEFORE_START = dt.timedelta(hours=3)
VISIT_LENGTH = dt.timedelta(minutes=15)
# Quiet hours are moved to the other half of the branch's day, so that no due reminder falls in
# them (one that did would go out the evening before, before its booking: never) at whatever
# time of day the bench runs.
QUIET_FROM_NOW = (dt.timedelta(hours=8), dt.timedelta(hours=16))
# up runs the workers and the relay at a lower priority than the web server.
NICENESS = 10
# Past this, whatever is not delivered counts as missed.
TIMEOUT_AFTER_SPREAD = dt.timedelta(minutes=10)
SCAN_DONE = re.compile(r"Task scheduling\.reminders_scan\[[^\]]+\] succeeded in ([0-9.]+)s: (\d+)")
SEND_DONE = re.compile(r"Task scheduling\.send_reminder\[outbox-\d+\] succeeded in ([0-9.]+)s: '([a-z ]+)'")
# Django's file e-mail backend ends each message with this line.
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


# --- the branches and their due visits ------------------------------------------------------------


@dataclass
class DueVisits:
    schemas: list[str]
    # Every patient's e-mail address and phone number, to the visit it belongs to (one visit a
    # patient): a delivered message names its visit.
    visit_of: dict[str, uuid.UUID]
    # The channel each visit's patient chose.
    channel_of: dict[uuid.UUID, str]


def _branches_onboard() -> list[Any]:
    from bench._db import branch_onboard

    return [branch_onboard(f"{SLUG_PREFIX}{number:02d}") for number in range(1, BRANCHES + 1)]


def _quiet_hours_away(hospital: Any, now: dt.datetime) -> None:
    from zoneinfo import ZoneInfo

    from tenants.models import Hospital

    local = now.astimezone(ZoneInfo(hospital.time_zone))
    start, end = (local + offset for offset in QUIET_FROM_NOW)
    Hospital.objects.filter(pk=hospital.pk).update(
        quiet_hours_start=dt.time(start.hour), quiet_hours_end=dt.time(end.hour)
    )


def _visits_book(branch: Any, number: int, now: dt.datetime) -> dict[uuid.UUID, tuple[str, str, str]]:
    """``VISITS`` patients, each with a unique e-mail address and phone number and, in turn, e-mail
    or text messages chosen, and a booked visit each; inserted at once (not measured). Returns
    each visit's (e-mail, phone, channel)."""
    from django.db import connection
    from django.db.models import F
    from django_tenants.utils import schema_context

    from clinical.models import ContactChannel, Gender, Patient
    from clinical.normalise import name_for_search
    from clinical.services import treatment_save
    from scheduling.models import Appointment

    slug = branch.hospital.slug
    with schema_context(branch.hospital.schema_name):
        connection.set_tenant(branch.hospital)
        treatment = treatment_save(data={"name": "Consultation", "code": "CONS", "duration_minutes": 15})
        patients = Patient.objects.bulk_create(
            Patient(
                mrn=f"REMIND-{n:05d}",
                full_name=f"Patient {n}",
                name_search=name_for_search(f"Patient {n}"),
                gender=(Gender.FEMALE, Gender.MALE)[n % 2],
                date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=17 * n),
                email=f"patient{n}@{slug}.bench",
                phone=f"+447700{number:02d}{n:04d}",
                contact_channel=(ContactChannel.EMAIL, ContactChannel.SMS)[n % 2],
            )
            for n in range(VISITS)
        )
        step = (LAST_START - FIRST_START) / VISITS
        visits = Appointment.objects.bulk_create(
            Appointment(
                patient=patient,
                doctor=branch.doctor,
                treatment=treatment,
                start=now + FIRST_START + n * step,
                end=now + FIRST_START + n * step + VISIT_LENGTH,
                status=Appointment.Status.BOOKED,
                # One doctor with 500 visits in an hour: outside the doctor's no-overlap
                # constraint, which a reminder does not care about.
                overbooked=True,
                booked_by=branch.receptionist,
            )
            for n, patient in enumerate(patients)
        )
        # booked_at is stamped with the insert's time: set it to before the reminder is due.
        Appointment.objects.update(booked_at=F("start") - BOOKED_BEFORE_START)
    return {
        visit.pk: (patient.email, patient.phone, patient.contact_channel)
        for visit, patient in zip(visits, patients, strict=True)
    }


def _due_visits_prepare() -> DueVisits:
    from django.utils import timezone

    branches = _branches_onboard()
    now = timezone.now()
    due = DueVisits(schemas=[], visit_of={}, channel_of={})
    for number, branch in enumerate(branches, start=1):
        _quiet_hours_away(branch.hospital, now)
        for visit, (address, phone, channel) in _visits_book(branch, number, now).items():
            due.visit_of[address] = due.visit_of[phone] = visit
            due.channel_of[visit] = channel
        due.schemas.append(branch.hospital.schema_name)
    return due


# --- the worker and the relay, as up runs them ----------------------------------------------------


@dataclass
class Pipeline:
    worker: subprocess.Popen
    relay: subprocess.Popen
    # worker.log and relay.log
    logs: Path
    flags: str

    @property
    def log(self) -> Path:
        return self.logs / "worker.log"

    def stopped(self) -> str | None:
        for name, process in (("worker", self.worker), ("relay", self.relay)):
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                return f"the {name} stopped (exit code {process.returncode}):\n{tail}"
        return None


def _nicer() -> None:
    os.nice(NICENESS)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_nicer,
        )


@contextlib.contextmanager
def _pipeline(*, outgoing: Path, logs: Path) -> Iterator[Pipeline]:
    """The default worker (``config/processes.py``, up's concurrency) and the outbox relay, on
    the bench's database and Redis (inherited from this process), delivering e-mails and text
    messages as files under ``outgoing``."""
    from config.embedded import stop_process
    from config.processes import default_worker_command

    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EMAIL_FILE_PATH": str(outgoing / "mail"),
        "SMS_FILE_PATH": str(outgoing / "sms" / "messages.jsonl"),
    }
    command = default_worker_command()
    worker = _start(command, env, logs / "worker.log")
    relay = _start([sys.executable, "manage.py", "outbox_relay"], env, logs / "relay.log")
    pipeline = Pipeline(worker=worker, relay=relay, logs=logs, flags=" ".join(command[4:]))
    try:
        deadline = time.monotonic() + 60
        while "ready." not in (log := pipeline.log.read_text(errors="replace")):
            if failure := pipeline.stopped():
                raise SystemExit(failure)
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log[-3000:]}")
            time.sleep(0.05)
        yield pipeline
    finally:
        stop_process(relay)
        stop_process(worker)


def _redis_empty() -> None:
    """The bench's own Redis database emptied: a crashed run's tasks, or the invitations the
    onboardings queued, which are not what is counted here."""
    from django.conf import settings
    from redis import Redis

    with Redis.from_url(settings.REDIS_URL) as redis:
        redis.flushdb()


def _drained() -> bool:
    """Nothing left to do: no task queued or being worked on (with late acknowledgement a task
    stays unacknowledged until done; a countdown's too), and no outbox message unsent."""
    from django.conf import settings
    from django_tenants.utils import schema_context
    from redis import Redis

    from workers.models import OutboxMessage

    with Redis.from_url(settings.REDIS_URL) as redis:
        if redis.llen("default") or redis.hlen("unacked"):
            return False
    with schema_context("public"):
        return not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


# --- what was delivered ---------------------------------------------------------------------------


@dataclass
class Delivered:
    address: str
    channel: str
    # Wall-clock seconds: the text message's own stamp, the e-mail file's last write.
    at: float


def _delivered(outgoing: Path) -> tuple[list[Delivered], int]:
    """Every message in the e-mail files and the text-message file; and how many could not be
    read (a line or a message cut or mixed with another)."""
    parser = email.parser.BytesHeaderParser()
    delivered, unreadable = [], 0
    for path in (outgoing / "mail").glob("*.log"):
        at = path.stat().st_mtime
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if not chunk.strip():
                continue
            to = parser.parsebytes(chunk)["To"]
            if to:
                delivered.append(Delivered(address=str(to), channel="email", at=at))
            else:
                unreadable += 1
    sms_file = outgoing / "sms" / "messages.jsonl"
    lines = sms_file.read_text(encoding="utf-8").splitlines() if sms_file.exists() else []
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        at = dt.datetime.fromisoformat(message["at"]).timestamp()
        delivered.append(Delivered(address=message["to"], channel="sms", at=at))
    return delivered, unreadable


def _reminder_rows(schemas: list[str]) -> list[dict[str, Any]]:
    from django_tenants.utils import schema_context

    from scheduling.models import ReminderSend

    rows = []
    for schema in schemas:
        with schema_context(schema):
            fields = ("appointment_id", "offset_minutes", "channel", "status", "last_error", "attempts")
            rows += [{**row, "schema": schema} for row in ReminderSend.objects.values(*fields)]
    return rows


def _send_messages() -> int:
    """Outbox messages that asked a worker to send a reminder: one per reminder made."""
    from django_tenants.utils import schema_context

    from scheduling.reminders import SEND_TASK
    from workers.models import OutboxMessage

    with schema_context("public"):
        return OutboxMessage.objects.filter(task_name=SEND_TASK).count()


# --- what the machine did meanwhile ---------------------------------------------------------------


@dataclass
class MachineCpu:
    """CPU seconds of the whole machine, every CPU (``/proc/stat``), this process's and its
    reaped children's (the worker, with its pool processes, and the relay, once stopped), and
    the PostgreSQL server's (when it runs on this machine); and seconds in which some runnable
    task waited for a CPU (``/proc/pressure``, zero where the kernel has none)."""

    busy: float
    total: float
    bench: float
    children: float
    postgres: float
    cpu_stall: float

    def __sub__(self, before: MachineCpu) -> MachineCpu:
        return MachineCpu(
            busy=self.busy - before.busy,
            total=self.total - before.total,
            bench=self.bench - before.bench,
            children=self.children - before.children,
            postgres=self.postgres - before.postgres,
            cpu_stall=self.cpu_stall - before.cpu_stall,
        )


def _process_cpu(pid: int, *, reaped: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """The server's CPU: its main process, the backends it has reaped and the live ones (zero
    when it runs elsewhere). The server is the parent of this connection's backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        status = Path(f"/proc/{backend}/status").read_text()
        server = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
    except OSError:
        return 0.0
    return _process_cpu(server, reaped=True) + sum(_process_cpu(int(pid)) for pid in children)


def _database_sessions() -> int:
    """Connections made to the bench's database so far (PostgreSQL 14 and later; else 0)."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return cursor.fetchone()[0]
    except DatabaseError:
        return 0


def _machine_cpu() -> MachineCpu:
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle and waiting for I/O
    clock = os.sysconf("SC_CLK_TCK")
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        cpu_stall = int(some.rpartition("total=")[2]) / 1_000_000
    except OSError:
        cpu_stall = 0.0
    used = os.times()
    return MachineCpu(
        busy=(sum(ticks) - idle) / clock,
        total=sum(ticks) / clock,
        bench=used.user + used.system,
        children=used.children_user + used.children_system,
        postgres=_postgres_cpu(),
        cpu_stall=cpu_stall,
    )


# --- the measure ----------------------------------------------------------------------------------


@dataclass
class ReminderFigures:
    due: DueVisits
    worker_flags: str
    load_before: float
    spread_seconds: float
    # How many branches each of the two fan-outs sent the scan to.
    fanned_out: list[int]
    # Wall-clock seconds: the first fan-out; when nothing was left to do (None: not by the timeout).
    started: float
    drained: float | None
    timeout: float
    delivered: list[Delivered]
    unreadable: int
    rows: list[dict[str, Any]]
    send_messages: int
    # From the worker's log: each scan's (run time, reminders made), each send's run time and
    # result, and the lines that report an error or a retry.
    scans: list[tuple[float, int]]
    sends: list[tuple[float, str]]
    trouble: list[str]
    # From the fan-out until the worker and the relay had stopped.
    cpu: MachineCpu
    # Connections made to the bench's database meanwhile.
    sessions: int
    setup_seconds: float
    wall_seconds: float

    @property
    def per_visit(self) -> Counter[uuid.UUID]:
        return Counter(self.due.visit_of[d.address] for d in self.delivered if d.address in self.due.visit_of)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.per_visit.values() if count > 1)

    @property
    def missed(self) -> int:
        return len(self.due.channel_of) - len(self.per_visit)

    @property
    def last_delivered(self) -> float:
        return max(d.at for d in self.delivered)


def reminders_measure() -> ReminderFigures:
    """Part (b), in the bench's database and Redis database (set up by the caller, Django set up
    and migrated): prepares the branches, runs the pipeline, counts what it delivered."""
    from django.conf import settings

    from workers.tasks import branches_fan_out

    began = time.monotonic()
    load_before = os.getloadavg()[0]
    print(f"reminders: onboarding {BRANCHES} branches, {VISITS} due visits each...", flush=True)
    due = _due_visits_prepare()
    _redis_empty()
    spread = float(settings.BRANCH_FAN_OUT_SPREAD)
    scratch = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    try:
        (scratch / "logs").mkdir()
        with _pipeline(outgoing=scratch / "outgoing", logs=scratch / "logs") as pipeline:
            setup_seconds = time.monotonic() - began
            print(f"reminders: worker ready; the scan fanned out twice at once over {spread:.0f} s", flush=True)
            cpu_before, sessions_before = _machine_cpu(), _database_sessions()
            started = time.time()
            fanned_out = [branches_fan_out("scheduling.reminders_scan", spread_seconds=spread) for _ in range(2)]
            timeout = spread + TIMEOUT_AFTER_SPREAD.total_seconds()
            drained = None
            while time.time() - started < timeout:
                if failure := pipeline.stopped():
                    raise SystemExit(failure)
                # Not before the scans have been due: until then the worker may not have taken them.
                if time.time() - started > spread and _drained():
                    drained = time.time()
                    break
                time.sleep(0.2)
        # Both stopped: their CPU is counted in this process's children's.
        cpu = _machine_cpu() - cpu_before
        log = pipeline.log.read_text(errors="replace")
        delivered, unreadable = _delivered(scratch / "outgoing")
        figures = ReminderFigures(
            due=due,
            worker_flags=pipeline.flags,
            load_before=load_before,
            spread_seconds=spread,
            fanned_out=fanned_out,
            started=started,
            drained=drained,
            timeout=timeout,
            delivered=delivered,
            unreadable=unreadable,
            rows=_reminder_rows(due.schemas),
            send_messages=_send_messages(),
            scans=[(float(seconds), int(made)) for seconds, made in SCAN_DONE.findall(log)],
            sends=[(float(seconds), result) for seconds, result in SEND_DONE.findall(log)],
            trouble=[line for line in log.splitlines() if "ERROR" in line or " retry" in line.lower()],
            cpu=cpu,
            sessions=_database_sessions() - sessions_before,
            setup_seconds=setup_seconds,
            wall_seconds=time.monotonic() - began,
        )
    finally:
        with contextlib.suppress(Exception):
            _redis_empty()
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


# --- the report -----------------------------------------------------------------------------------


def reminders_report(figures: ReminderFigures) -> bool:
    """Print part (b)'s figures; whether its target was met."""
    due = figures.due
    visits = len(due.channel_of)
    channels = Counter(due.channel_of.values())
    cpus = os.cpu_count() or 1
    print(
        f"(b) reminders: {len(due.schemas)} branches x {VISITS} booked visits due for the 2-hour reminder "
        f"({visits} in all: {channels['email']} by e-mail, {channels['sms']} by text message), each patient with "
        f"a unique address and phone number; quiet hours moved away from the due times"
    )
    print(
        f"machine: {cpus} CPUs ({len(os.sched_getaffinity(0))} usable by this process), load average "
        f"{figures.load_before:.1f} before part (b), {os.getloadavg()[0]:.1f} now (1 minute)"
    )
    print(
        f"default worker, as up starts it: celery -A workers.celery worker {figures.worker_flags} (nice +{NICENESS}), "
        f"with the outbox relay; the scan fanned out twice at once (a doubled beat) to "
        f"{' and '.join(map(str, figures.fanned_out))} branches over {figures.spread_seconds:.0f} s "
        f"(BRANCH_FAN_OUT_SPREAD)"
    )
    email_messages = sum(d.channel == "email" for d in figures.delivered)
    if figures.delivered:
        seconds = figures.last_delivered - figures.started
        first = min(d.at for d in figures.delivered) - figures.started
        print(
            f"reminders/s: {len(figures.delivered) / seconds:.1f} ({len(figures.delivered)} delivered, "
            f"{email_messages} e-mails and {len(figures.delivered) - email_messages} text messages, from the "
            f"fan-out to the last delivered {seconds:.1f} s; the first {first:.1f} s after it)"
        )
    else:
        print("reminders/s: 0 (nothing delivered)")
    made = [m for _s, m in figures.scans]
    split = sum(0 < m < VISITS for m in made)
    if figures.scans:
        scan_seconds = [s for s, _m in figures.scans]
        print(
            f"  scans: {len(figures.scans)} ran, made {sum(made)} reminders ({sum(m == VISITS for m in made)} made all "
            f"of their branch's, {made.count(0)} none, {split} some: raced the other scan of their branch); "
            f"each took p50 {p50(scan_seconds):.1f} s, max {max(scan_seconds):.1f} s"
        )
    if len(figures.sends) >= 2:
        send_ms = [s * 1000 for s, _r in figures.sends]
        results = ", ".join(f"{count} {result}" for result, count in Counter(r for _s, r in figures.sends).items())
        print(
            f"  sends: {len(figures.sends)} tasks ({results}), each p50 {p50(send_ms):.0f} ms, p95 {p95(send_ms):.0f} "
            f"ms in the worker"
        )
    cpu = figures.cpu
    per_reminder = 1000 / max(len(figures.delivered), 1)
    # The kernel's counts per process and for the whole machine differ by a percent or so.
    others = max(0.0, cpu.busy - cpu.children - cpu.bench - cpu.postgres)
    print(
        f"  CPU from the fan-out to the worker's stop: worker and relay {cpu.children:.1f} s "
        f"({cpu.children * per_reminder:.1f} ms a reminder), PostgreSQL {cpu.postgres:.1f} s "
        f"({cpu.postgres * per_reminder:.1f} ms; {figures.sessions} connections made to the database), this "
        f"process {cpu.bench:.1f} s, everything else (Redis, other work on the machine) {others:.1f} s; busy "
        f"{cpu.busy:.0f} of {cpu.total:.0f} CPU-seconds; some task waited for a CPU "
        f"{cpu.cpu_stall * 100 / (cpu.total / cpus):.0f}% of the time"
    )
    drained = (
        f"nothing left to do {figures.drained - figures.started:.1f} s after the fan-out"
        if figures.drained
        else f"NOT drained by the timeout ({figures.timeout:.0f} s): what was not delivered counts as missed"
    )
    print(f"  {drained}; set-up {figures.setup_seconds:.0f} s, part (b) in all {figures.wall_seconds:.0f} s")

    strangers = sum(d.address not in due.visit_of for d in figures.delivered)
    wrong_channel = sum(
        d.address in due.visit_of and d.channel != due.channel_of[due.visit_of[d.address]] for d in figures.delivered
    )
    print(f"duplicates: {figures.duplicates}")
    print(f"missed: {figures.missed}")
    if strangers or wrong_channel or figures.unreadable:
        print(
            f"  also delivered: {strangers} to addresses of no due visit, {wrong_channel} by the channel the "
            f"patient did not choose; {figures.unreadable} messages unreadable"
        )
    rows_per_visit = Counter(r["appointment_id"] for r in figures.rows)
    statuses = Counter(r["status"] for r in figures.rows)
    offsets = Counter(r["offset_minutes"] for r in figures.rows)
    print(
        f"reminder rows: {len(figures.rows)} ({', '.join(f'{n} {s}' for s, n in statuses.items()) or 'none'}; "
        f"offsets {dict(offsets)}): {visits - len(rows_per_visit)} due visits have none, "
        f"{sum(n > 1 for n in rows_per_visit.values())} more than one; {figures.send_messages} send tasks queued "
        f"through the outbox"
    )
    for row in [r for r in figures.rows if r["status"] != "sent"][:5]:
        print(
            f"  not sent: {row['schema']} visit {row['appointment_id']} {row['channel']}: {row['status']} after "
            f"{row['attempts']} attempts: {row['last_error'] or '(no error)'}"
        )
    for line in figures.trouble[:5]:
        print(f"  worker: {line[:300]}")

    missed = []
    if figures.duplicates:
        missed.append(f"{figures.duplicates} duplicates")
    if figures.missed:
        missed.append(f"{figures.missed} missed")
    verdict = "met" if not missed else f"NOT met ({'; '.join(missed)})"
    print(f"target: duplicates 0, missed 0: {verdict}")
    return not missed
