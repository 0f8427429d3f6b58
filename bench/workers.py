"""How fast the workers turn saved prescriptions into PDFs, against WeasyPrint rendering them directly.

    uv run python bench/workers.py [--prescriptions 100] [--concurrency 1] [--seed 5] [--part all]

Runs in a database of its own (created and dropped here) on the configured or embedded
PostgreSQL, in one branch onboarded by the real service, with a Redis database of its own
(11 on the same server) and a scratch MEDIA_ROOT, both emptied at the end. Patients are
prepared first (names in Latin, Devanagari and Arabic script) and assigned to the doctor by
``patient_assign_doctor``; each record has 2 or 3 prescription lines, some of them in Devanagari
or Arabic.

(a) PDFs. A Celery worker on the ``pdf`` queue is started as ``manage.py up`` starts it (same
flags, ``--concurrency`` up's 1 unless given, and 10 steps nicer than the web server and this
process, which saves the records). Every record is saved by
``clinical.services.treatment_record_create``, whose outbox hands the render to Redis after the
commit; the worker renders and stores the PDF and marks the prescription ready. Two sets of
``--prescriptions`` records go through it:

- Latency: saves spread as doctors make them, one every 100-200 ms (at random), so that the
  queue is what a busy branch gives it. Prints p50/p95 from the save (the service returned:
  committed and handed to Redis) to ready, and how much of that is the task itself.
- Throughput: saves in a burst, one after another, so that the queue never runs dry and the rate
  is the worker's, not the doctors'. Measured from the start of the first save to the last
  ready. A spread set cannot measure it: its rate is the doctors' as long as the worker keeps up.

Ready is the ``rendered_at`` the worker stamps in the transaction that sets ``pdf_status`` to
ready (its commit follows within a few milliseconds), so the bench's polling interval does not
count. Beside it, in the same run and after the worker has stopped, the baseline: the burst's
prescriptions rendered by ``clinical.pdf.prescription_pdf`` one after another in this process
(after one untimed render, which imports WeasyPrint). Prints both rates and `ratio: N`
(pipeline / direct); where the burst's time went (the tasks' own run times, from the worker's
log, and the time between them); the CPU the worker, this process and everything else used, and
how long tasks waited for a CPU or for I/O (``/proc/pressure``: the targets hold for an idle
machine, and these say whether it was); the slowest tasks by number (a pool process is replaced
every ``PDF_WORKER_MAX_TASKS_PER_CHILD`` tasks); then `target: ratio at least 0.8, p95 save to
ready under 1500 ms: met` or what was not, and exits 1 if not met.

(b) Reminders. In the same database, after (a) (``--part pdfs`` or ``reminders`` runs one alone),
20 more branches are onboarded by the real service, each with 500 patients (a unique e-mail
address and phone number each; every other one chose e-mail, the rest text messages) and a booked
visit each, inserted at once: starting 65 to 115 minutes ahead and booked three hours before their
start, so that the two-hour reminder is due and the day-before one is not; each branch's quiet
hours are moved to 8 to 16 hours ahead (branch time, whole hours), so that no due reminder falls
in them. A worker on the ``default`` queue is started as ``manage.py up`` starts it (same flags,
up's concurrency 2, 10 steps nicer), with the outbox relay, delivering e-mails (Django's file
backend) and text messages (``core.sms.FileBackend``) into a scratch directory. The scan is sent
as beat sends it, by ``workers.tasks.branches_fan_out`` to every ready branch (with (a)'s, which
has no visits) over ``BRANCH_FAN_OUT_SPREAD`` seconds, and twice at once (a doubled beat), so that
two scans of a branch race in the worker's two processes. The bench waits until no task is queued
or unacknowledged and no outbox message unsent, or until 10 minutes past the spread: what is not
delivered by then is missed. Prints reminders per second (messages delivered, over the time from
the fan-out to the last delivered: a text message's own stamp, an e-mail file's last write); what
the scans made (how many raced the other scan of their branch) and the sends' run times, from the
worker's log; the CPU the worker and relay, PostgreSQL, this process and everything else used;
`duplicates: N` (messages delivered beyond one a visit: only its two-hour reminder, by its
patient's channel, is due) and `missed: N` (due visits without a message); the ``ReminderSend``
rows as a cross-check (any not sent, with its last error); then `target: duplicates 0, missed 0:
met` or what was not, and exits 1 if not met or (a) missed its target.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The project first: this file's own name would otherwise hide the ``workers`` package.
# This folder comes first on the path of a script run from it, and bench/queue.py would then be
# the standard library's ``queue`` for whatever imports it (psycopg, concurrent.futures).
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HOSPITAL_ENV", "local")

from bench._figures import p50, p95  # noqa: E402 - after the path is set
from bench._reminders import ReminderFigures, reminders_measure, reminders_report  # noqa: E402

BENCH_DB = "hospital_bench_workers"
BENCH_REDIS_DB = 11
SLUG = "bench"
TARGET_RATIO = 0.8
TARGET_P95_MS = 1500.0
SPREAD_SECONDS = (0.1, 0.2)
# up runs the workers at a lower priority than the web server (tenants/management/commands/up.py).
WORKER_NICENESS = 10
# Celery logs each task's own run time; the id is the outbox message's.
TASK_DONE = re.compile(r"\[outbox-(\d+)\] succeeded in ([0-9.]+)s")

PATIENT_NAMES = [
    "Oliver Bennett",
    "Amelia Clarke",
    "राहुल शर्मा",
    "प्रिया वर्मा",
    "فاطمة الزهراء",
    "محمد العلي",
    "Siobhán O'Sullivan",
    "Aarav Patel",
]
# (medicine, strength, dose, frequency, duration, instructions)
LINES = [
    ("Paracetamol", "500 mg", "1 tablet", "three times a day", "5 days", "after food"),
    ("पैरासिटामोल", "500 mg", "1 गोली", "दिन में तीन बार", "5 दिन", "खाने के बाद"),
    ("Amoxicillin", "500 mg", "1 capsule", "three times a day", "7 days", "finish the course"),
    ("أموكسيسيلين", "500 mg", "كبسولة واحدة", "ثلاث مرات يوميا", "7 أيام", "بعد الأكل"),
    ("Omeprazole", "20 mg", "1 capsule", "once a day", "14 days", "before breakfast"),
    ("मेटफॉर्मिन", "500 mg", "1 गोली", "दिन में दो बार", "30 दिन", "भोजन के साथ"),
    ("إيبوبروفين", "400 mg", "قرص واحد", "مرتين يوميا", "3 أيام", "مع الطعام"),
    ("Cetirizine", "10 mg", "1 tablet", "at night", "10 days", ""),
]
ADVICE = [
    "Drink plenty of fluids and rest.",
    "खूब पानी पिएं और आराम करें।",
    "اشرب الكثير من السوائل واسترح.",
]


# --- the branch, its patients and their records ---------------------------------------------------


@dataclass
class Clinic:
    schema: str
    hospital: Any
    doctor: Any
    admin: Any


def _clinic_open() -> Clinic:
    from bench._db import branch_onboard

    branch = branch_onboard(SLUG)
    hospital = branch.hospital
    return Clinic(schema=hospital.schema_name, hospital=hospital, doctor=branch.doctor, admin=branch.admin)


def _patients_prepare(clinic: Clinic, *, label: str, n: int) -> list[Any]:
    """``n`` patients inserted at once (their registration is not measured), each assigned to the
    doctor by the real service, as the desk or a booking does before a visit."""
    from clinical.models import Gender, Patient
    from clinical.normalise import name_for_search
    from clinical.services import patient_assign_doctor

    names = [f"{PATIENT_NAMES[number % len(PATIENT_NAMES)]} {label}{number}" for number in range(n)]
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"BENCH-{label.upper()}-{number:05d}",
            full_name=name,
            name_search=name_for_search(name),
            gender=(Gender.FEMALE, Gender.MALE)[number % 2],
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=197 * number),
        )
        for number, name in enumerate(names)
    )
    for patient in patients:
        patient_assign_doctor(patient=patient, doctor=clinic.doctor, actor=clinic.admin)
    return patients


def _record_data(rng: random.Random) -> dict[str, Any]:
    lines = rng.sample(LINES, rng.choice((2, 3)))
    fields = ("medicine", "strength", "dose", "frequency", "duration", "instructions")
    return {
        "diagnosis": "Acute upper respiratory infection",
        "icd10_code": "J06.9",
        "patient_advice": rng.choice(ADVICE),
        "prescriptions": [dict(zip(fields, line, strict=True)) for line in lines],
    }


@dataclass
class Saved:
    prescription_id: uuid.UUID
    # Wall-clock seconds (time.time), comparable with the worker's rendered_at.
    started: float
    committed: float


def _save(clinic: Clinic, patient: Any, data: dict[str, Any]) -> Saved:
    from clinical.services import treatment_record_create

    started = time.time()
    record = treatment_record_create(doctor=clinic.doctor, patient=patient, data=data)
    return Saved(prescription_id=record.prescription.pk, started=started, committed=time.time())


def _saves_spread(clinic: Clinic, patients: list[Any], rng: random.Random) -> list[Saved]:
    """One save every 100-200 ms, on a schedule of its own (a slow save does not push the next)."""
    saves = []
    due = time.monotonic()
    for patient in patients:
        time.sleep(max(0.0, due - time.monotonic()))
        saves.append(_save(clinic, patient, _record_data(rng)))
        due += rng.uniform(*SPREAD_SECONDS)
    return saves


def _saves_burst(clinic: Clinic, patients: list[Any], rng: random.Random) -> list[Saved]:
    data = [_record_data(rng) for _ in patients]
    return [_save(clinic, patient, record_data) for patient, record_data in zip(patients, data, strict=True)]


# --- the pdf worker -------------------------------------------------------------------------------


@dataclass
class PdfWorker:
    process: subprocess.Popen
    log: Path
    flags: str
    startup_seconds: float
    # The most resident memory a pool process was seen with (sampled while waiting for PDFs).
    peak_rss_mb: float = 0.0

    def task_seconds(self) -> list[tuple[int, float]]:
        """(outbox message id, the task's own run time) of each task done, in the order done."""
        text = self.log.read_text(errors="replace")
        return [(int(message), float(seconds)) for message, seconds in TASK_DONE.findall(text)]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def pool(self) -> list[int]:
        with contextlib.suppress(OSError), open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as handle:
            return [int(pid) for pid in handle.read().split()]
        return []

    def cpu_seconds(self) -> float:
        """CPU used so far by the worker: its main process, the pool processes it has replaced
        (reaped children) and the live ones."""
        return _cpu_seconds(self.process.pid, reaped=True) + sum(_cpu_seconds(pid) for pid in self.pool())

    def rss_sample(self) -> None:
        for pid in self.pool():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)


# --- what the machine did meanwhile ---------------------------------------------------------------


def _cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSnapshot:
    worker: float
    bench: float
    # The whole machine, every CPU: busy and all seconds (from /proc/stat).
    busy: float
    total: float
    # Seconds in which some runnable task waited for a CPU, or some task for I/O (the kernel's
    # pressure stall information; zero where the kernel has none).
    cpu_stall: float
    io_stall: float
    wall: float


def _stall_seconds(resource: str) -> float:
    try:
        some = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
    except OSError:
        return 0.0
    return int(some.rpartition("total=")[2]) / 1_000_000


def _cpu_snapshot(worker: PdfWorker | None) -> CpuSnapshot:
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle and waiting for I/O
    used = os.times()
    clock = os.sysconf("SC_CLK_TCK")
    return CpuSnapshot(
        worker=worker.cpu_seconds() if worker else 0.0,
        bench=used.user + used.system,
        busy=(sum(ticks) - idle) / clock,
        total=sum(ticks) / clock,
        cpu_stall=_stall_seconds("cpu"),
        io_stall=_stall_seconds("io"),
        wall=time.monotonic(),
    )


@dataclass
class CpuUse:
    worker: float
    bench: float
    busy: float
    total: float
    cpu_stall: float
    io_stall: float
    wall: float

    @property
    def pressure(self) -> str:
        """How contended the machine was: the share of the time some task waited for a CPU, and
        for I/O (``/proc/pressure``)."""
        return (
            f"some task waited for a CPU {self.cpu_stall * 100 / self.wall:.0f}% of the time, "
            f"for I/O {self.io_stall * 100 / self.wall:.0f}%"
        )

    @property
    def others(self) -> float:
        """CPU the rest of the machine used: PostgreSQL, Redis and whatever else runs here."""
        return self.busy - self.worker - self.bench


def _cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> CpuUse:
    return CpuUse(
        worker=after.worker - before.worker,
        bench=after.bench - before.bench,
        busy=after.busy - before.busy,
        total=after.total - before.total,
        cpu_stall=after.cpu_stall - before.cpu_stall,
        io_stall=after.io_stall - before.io_stall,
        wall=after.wall - before.wall,
    )


# --- the pdf worker, running ----------------------------------------------------------------------


def _nicer() -> None:
    os.nice(WORKER_NICENESS)


@contextlib.contextmanager
def _pdf_worker(*, concurrency: int, logs: Path) -> Iterator[PdfWorker]:
    """The pdf worker with the flags ``manage.py up`` gives it (``config/processes.py``),
    on the bench's database, Redis and MEDIA_ROOT (inherited from this process)."""

    from config.embedded import stop_process
    from config.processes import pdf_worker_command

    command = pdf_worker_command(concurrency=concurrency)
    log = logs / "pdf-worker.log"
    started = time.monotonic()
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_nicer,
        )
    try:
        worker = PdfWorker(process=process, log=log, flags=" ".join(command[4:]), startup_seconds=0.0)
        deadline = started + 60
        while "ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the pdf worker did not start:\n{worker.tail()}")
            time.sleep(0.05)
        worker.startup_seconds = time.monotonic() - started
        yield worker
    finally:
        stop_process(process)


def _queues_empty() -> None:
    """The bench's Redis database without queued or unacknowledged messages (a crashed run's, or
    the invitations onboarding queues for a worker nobody runs here)."""
    from django.conf import settings
    from redis import Redis

    with Redis.from_url(settings.REDIS_URL) as redis:
        redis.delete("pdf", "default", "unacked", "unacked_index", "unacked_mutex")


def _ready_times(ids: list[uuid.UUID], worker: PdfWorker, *, timeout: float) -> dict[uuid.UUID, float]:
    """Wait until every prescription of ``ids`` is ready; their rendered_at (wall-clock seconds)."""
    from clinical.models import Prescription

    deadline = time.monotonic() + timeout
    while True:
        rows = list(Prescription.objects.filter(pk__in=ids).values_list("pk", "pdf_status", "rendered_at", "pdf_error"))
        failed = [(pk, error) for pk, status, _at, error in rows if status == Prescription.PdfStatus.FAILED]
        if failed:
            raise SystemExit(f"{len(failed)} PDFs failed, the first: {failed[0][1]}")
        ready = {pk: at.timestamp() for pk, status, at, _error in rows if status == Prescription.PdfStatus.READY}
        if len(ready) == len(ids):
            return ready
        if worker.process.poll() is not None:
            raise SystemExit(f"the pdf worker stopped:\n{worker.tail()}")
        worker.rss_sample()
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(ids) - len(ready)} of {len(ids)} PDFs not ready after {timeout:.0f} s")
        time.sleep(0.1)


def _message_prescriptions() -> dict[int, uuid.UUID]:
    """Which prescription each outbox message asked to render."""
    from django_tenants.utils import schema_context

    from clinical.services import PRESCRIPTION_RENDER_TASK
    from workers.models import OutboxMessage

    with schema_context("public"):
        messages = OutboxMessage.objects.filter(task_name=PRESCRIPTION_RENDER_TASK).values_list("pk", "kwargs")
        return {pk: uuid.UUID(kwargs["prescription_id"]) for pk, kwargs in messages}


# --- the measures ---------------------------------------------------------------------------------


@dataclass
class Phase:
    saves: list[Saved]
    ready: dict[uuid.UUID, float]
    # The task's own run time in the worker, by prescription.
    task_seconds: dict[uuid.UUID, float]
    # From the first save until every PDF was seen ready.
    cpu: CpuUse

    @property
    def latency_ms(self) -> list[float]:
        return [(self.ready[s.prescription_id] - s.committed) * 1000 for s in self.saves]

    @property
    def task_ms(self) -> list[float]:
        return [self.task_seconds[s.prescription_id] * 1000 for s in self.saves]

    @property
    def save_ms(self) -> list[float]:
        return [(s.committed - s.started) * 1000 for s in self.saves]

    @property
    def seconds(self) -> float:
        """From the start of the first save to the last ready."""
        return max(self.ready.values()) - self.saves[0].started

    @property
    def saving_seconds(self) -> float:
        return self.saves[-1].committed - self.saves[0].started


@dataclass
class Direct:
    prescriptions: int
    seconds: float
    first_render_ms: float
    cpu: CpuUse

    @property
    def per_second(self) -> float:
        return self.prescriptions / self.seconds


@dataclass
class Figures:
    concurrency: int
    worker: PdfWorker
    spread: Phase
    burst: Phase
    direct: Direct
    # The tasks' own run times (ms) in the order the worker did them.
    tasks_in_order: list[float]
    stored_files: int
    stored_bytes: int
    pool_rss_mb: float


def _direct_render(ids: list[uuid.UUID]) -> Direct:
    """The same prescriptions rendered one after another in this process, as the task fetches
    them; one untimed render first loads WeasyPrint and the fonts."""
    from clinical.models import Prescription
    from clinical.pdf import prescription_pdf

    by_id = Prescription.objects.select_related("record__patient", "record__doctor").in_bulk(ids)
    prescriptions = [by_id[pk] for pk in ids]
    started = time.perf_counter()
    prescription_pdf(prescriptions[0])
    first_render_ms = (time.perf_counter() - started) * 1000
    before = _cpu_snapshot(None)
    started = time.perf_counter()
    for prescription in prescriptions:
        prescription_pdf(prescription)
    seconds = time.perf_counter() - started
    return Direct(len(prescriptions), seconds, first_render_ms, _cpu_used(before, _cpu_snapshot(None)))


def _phase(worker: PdfWorker, saves: list[Saved], cpu_before: CpuSnapshot) -> Phase:
    ids = [s.prescription_id for s in saves]
    ready = _ready_times(ids, worker, timeout=60 + 2 * len(ids))
    cpu = _cpu_used(cpu_before, _cpu_snapshot(worker))
    # The worker logs a task's run time just after its commit: wait for the last of them.
    wanted = set(ids)
    deadline = time.monotonic() + 10
    while True:
        messages = _message_prescriptions()
        seconds = {messages[m]: s for m, s in worker.task_seconds() if messages.get(m) in wanted}
        if len(seconds) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(seconds) != len(ids):
        raise SystemExit(f"the worker's log names {len(seconds)} of {len(ids)} tasks:\n{worker.tail()}")
    return Phase(saves=saves, ready=ready, task_seconds=seconds, cpu=cpu)


def _measure(clinic: Clinic, *, n: int, concurrency: int, seed: int, media: Path) -> Figures:
    from django.db import connection
    from django_tenants.utils import schema_context

    rng = random.Random(seed)  # noqa: S311 - the same records on every run, not a secret
    with schema_context(clinic.schema):
        connection.set_tenant(clinic.hospital)
        spread_patients = _patients_prepare(clinic, label="spread", n=n)
        burst_patients = _patients_prepare(clinic, label="burst", n=n)
    _queues_empty()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as logs:
        with _pdf_worker(concurrency=concurrency, logs=Path(logs)) as worker:
            print(f"pdf worker ready in {worker.startup_seconds:.1f} s", flush=True)
            with schema_context(clinic.schema):
                connection.set_tenant(clinic.hospital)
                print(f"latency: {n} saves, one every 100-200 ms", flush=True)
                cpu_before = _cpu_snapshot(worker)
                spread = _phase(worker, _saves_spread(clinic, spread_patients, rng), cpu_before)
                print(f"throughput: {n} saves in a burst", flush=True)
                cpu_before = _cpu_snapshot(worker)
                burst = _phase(worker, _saves_burst(clinic, burst_patients, rng), cpu_before)
            tasks_in_order = [seconds * 1000 for _message, seconds in worker.task_seconds()]
        print(f"direct: {n} renders in this process", flush=True)
        with schema_context(clinic.schema):
            connection.set_tenant(clinic.hospital)
            direct = _direct_render([s.prescription_id for s in burst.saves])
    stored = [path for path in (media / clinic.schema).rglob("*.pdf")]
    return Figures(
        concurrency=concurrency,
        worker=worker,
        spread=spread,
        burst=burst,
        direct=direct,
        tasks_in_order=tasks_in_order,
        stored_files=len(stored),
        stored_bytes=sum(path.stat().st_size for path in stored),
        pool_rss_mb=worker.peak_rss_mb,
    )


# --- the run --------------------------------------------------------------------------------------


def _report(figures: Figures, *, load_before: float) -> bool:
    """Print the figures; whether the targets were met."""
    from django.conf import settings

    spread, burst, direct = figures.spread, figures.burst, figures.direct
    n = len(burst.saves)
    cpus = os.cpu_count() or 1
    print(
        f"machine: {cpus} CPUs ({len(os.sched_getaffinity(0))} usable by this process), load average "
        f"{load_before:.1f} before the bench, {os.getloadavg()[0]:.1f} now (1 minute)"
    )
    print(
        f"pdf worker, as up starts it: celery -A workers.celery worker {figures.worker.flags} (nice +{WORKER_NICENESS})"
    )
    print(
        f"direct, prescription_pdf in this process: {direct.per_second:6.2f} prescriptions/s "
        f"({direct.prescriptions} in {direct.seconds:.1f} s, {direct.cpu.bench * 1000 / direct.prescriptions:.0f} ms "
        f"CPU each; the untimed first render, which imports WeasyPrint, took {direct.first_render_ms:.0f} ms); "
        f"{direct.cpu.pressure}"
    )
    pipeline_rate = n / burst.seconds
    print(
        f"pipeline, a burst of {n} saves:           {pipeline_rate:6.2f} PDFs/s "
        f"(saved in {burst.saving_seconds:.1f} s; first save to last ready {burst.seconds:.1f} s)"
    )
    ratio = pipeline_rate / direct.per_second
    print(f"ratio: {ratio:.2f} (pipeline / direct)")

    tasks = figures.tasks_in_order
    median = p50(tasks)
    # Per pool process: with more than one, tasks run side by side.
    burst_run = sum(burst.task_ms) / 1000 / figures.concurrency
    burst_slow = sum(ms for ms in burst.task_ms if ms > 3 * median) / 1000 / figures.concurrency
    print(
        f"  the burst's {burst.seconds:.1f} s: tasks ran {burst_run:.1f} s a pool process ({burst_slow:.1f} s of it in "
        f"tasks over 3x the median), {burst.seconds - burst_run:.1f} s outside tasks (delivery, hand-over, "
        f"replacing pool processes)"
    )
    cpu = burst.cpu
    print(
        f"  CPU during the burst: pdf worker {cpu.worker:.1f} s ({cpu.worker * 1000 / n:.0f} ms a PDF), this process "
        f"{cpu.bench:.1f} s, everything else (PostgreSQL, Redis, other work on the machine) {cpu.others:.1f} s; "
        f"busy {cpu.busy:.1f} of {cpu.total:.1f} CPU-seconds; {cpu.pressure}"
    )
    drained = max(spread.ready.values()) - spread.saves[-1].committed
    print(
        f"pipeline, {len(spread.saves)} saves one every 100-200 ms over {spread.saving_seconds:.1f} s: "
        f"save to ready p50 {p50(spread.latency_ms):.0f} ms, p95 {p95(spread.latency_ms):.0f} ms, "
        f"max {max(spread.latency_ms):.0f} ms; the last ready {drained:.1f} s after the last save"
    )
    waiting = [total - task for total, task in zip(spread.latency_ms, spread.task_ms, strict=True)]
    print(
        f"  the task's own run time p50 {p50(spread.task_ms):.0f} ms, p95 {p95(spread.task_ms):.0f} ms; the rest, "
        f"waiting behind other PDFs (about 0 when none), p50 {p50(waiting):.0f} ms, p95 {p95(waiting):.0f} ms; offered "
        f"{len(spread.saves) / spread.saving_seconds:.1f} saves/s; {spread.cpu.pressure}"
    )
    slow = [(number, ms) for number, ms in enumerate(tasks, start=1) if ms > 3 * median]
    slow_text = ", ".join(f"#{number} {ms:.0f} ms" for number, ms in slow) or "none"
    print(
        f"tasks in the worker ({len(tasks)}): p50 {median:.0f} ms, mean {statistics.fmean(tasks):.0f} ms; "
        f"over 3x the median: {slow_text} (a pool process is replaced every "
        f"{settings.PDF_WORKER_MAX_TASKS_PER_CHILD} tasks); a pool process had at most "
        f"{figures.pool_rss_mb:.0f} MB resident"
    )
    print(
        f"saves (treatment_record_create, with the outbox's hand-over to Redis): p50 {p50(spread.save_ms):.0f} ms, "
        f"p95 {p95(spread.save_ms + burst.save_ms):.0f} ms; stored {figures.stored_files} PDFs, "
        f"{figures.stored_bytes / max(figures.stored_files, 1) / 1024:.0f} KB each on average"
    )
    missed = []
    if ratio < TARGET_RATIO:
        missed.append(f"ratio {ratio:.2f}")
    if p95(spread.latency_ms) >= TARGET_P95_MS:
        missed.append(f"p95 {p95(spread.latency_ms):.0f} ms")
    if figures.stored_files != 2 * n:
        missed.append(f"{figures.stored_files} PDFs stored, not {2 * n}")
    verdict = "met" if not missed else f"NOT met ({'; '.join(missed)})"
    print(f"target: ratio at least {TARGET_RATIO}, p95 save to ready under {TARGET_P95_MS:.0f} ms: {verdict}")
    return not missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prescriptions", type=int, default=100, help="records saved in each of the two sets")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes of the pdf worker (up: 1)")
    parser.add_argument("--seed", type=int, default=5, help="chooses the lines, advice and spacing of the saves")
    parser.add_argument("--part", choices=("pdfs", "reminders", "all"), default="all", help="(a) pdfs, (b) reminders")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    from bench._db import bench_database_create, bench_database_drop, bench_redis_database

    bench_redis_database(BENCH_REDIS_DB)
    bench_database_create(BENCH_DB)
    # The worker inherits it: the PDFs are stored here and nowhere else.
    media = Path(tempfile.mkdtemp(prefix="bench-workers-media-"))
    os.environ["MEDIA_ROOT"] = str(media)
    figures: Figures | None = None
    reminders: ReminderFigures | None = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        print("migrating the bench database and the template...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        if args.part != "reminders":
            clinic = _clinic_open()
            figures = _measure(clinic, n=args.prescriptions, concurrency=args.concurrency, seed=args.seed, media=media)
        if args.part != "pdfs":
            reminders = reminders_measure()
    finally:
        with contextlib.suppress(Exception):  # Django may not have been set up
            _queues_empty()
        bench_database_drop(BENCH_DB)
        shutil.rmtree(media, ignore_errors=True)
    met = figures is None or _report(figures, load_before=load_before)
    met = (reminders is None or reminders_report(reminders)) and met
    if not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
