"""How fast a branch of 100,000 patients answers the front desk and the doctor: search by name
fragment, phone and MRN, and a busy patient's profile and timeline.

    uv run python bench/search.py [--patients 100000] [--visits 500] [--repeat 200]

Runs in a database of its own (created and dropped here) on the configured or embedded
PostgreSQL. One branch is onboarded by the real service and filled by COPY; one patient gets
``--visits`` visits with prescriptions and a few corrections. Each kind of request is then
sent ``--repeat`` times (after a warm-up) through the whole HTTP stack with django.test.Client
and a bearer token; beside each search, the SQL the selector ran is timed on its own. Prints
p50 and p95 of each, then `target: every p95 under 30 ms: met` or what was not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import phonenumbers

if TYPE_CHECKING:
    from bench._db import Branch

ROOT = Path(__file__).resolve().parent.parent
# This folder comes first on the path of a script run from it, and bench/queue.py would then be
# the standard library's ``queue`` for whatever imports it (psycopg, concurrent.futures).
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("HOSPITAL_ENV", "local")

from bench._figures import p50, p95  # noqa: E402 - after the path is set

BENCH_DB = "hospital_bench_search"
SLUG = "bench"
TARGET_MS = 30.0
TRIGRAM_INDEX = "clinical_patient_name_trgm"

# Commonest first: the weights below make the head common (a fragment of "Smith" matches a
# realistic share of a British branch) and the synthetic surnames make the long tail.
SURNAMES = (  # noqa: SIM905 - a list of names reads better as text
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
    "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
    "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman "
    "Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight "
    "Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher "
    "Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West "
    "Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant "
    "Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page "
    "Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton Oliver "
    "Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton "
    "Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates "
    "Hodgson Robson Curtis Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin "
    "Sharp Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Rahman Islam Miah Uddin "
    "Chowdhury García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Núñez Muñoz Álvarez "
    "Jiménez Hernández Díaz Silva Santos Gonçalves Conceição Nowak Kowalski Wiśniewski Wójcik Dąbrowski "
    "Zieliński Müller Schäfer Böhm Lefèvre Dubois Bélanger O'Sullivan Nguyễn Trần Phạm Öztürk Yılmaz Şahin "  # noqa: RUF001 - the Turkish dotless i
    "Çelik Papadopoulos Иванов Петрова Παπαδόπουλος محمد علي 王 李 张 陈 सिंह पटेल 김 박"
).split(" ")
FIRST_NAMES = (  # noqa: SIM905 - a list of names reads better as text
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Leo Alfie Henry Joshua "
    "Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas Mohammed Logan Olivia "
    "Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Sophia Grace Evie Scarlett Ruby Chloe Sophie Freya "
    "Daisy Charlotte Jessica Florence Alice Ivy Phoebe Matilda Zoë Chloé Renée Siobhán Seán Niamh Aoife Dónal "
    "José María Lucía Sofía Martín Inés Andrés Ramón Joaquín João Gonçalo Conceição Łukasz Małgorzata Zofia "
    "Wojciech Jürgen Björn Søren Émile Hélène François Ayşe Çağla Fatima Aisha Omar Yusuf Zainab Ibrahim "
    "Priya Aarav Ananya Rohan Deepika Arjun Gurpreet Harjit Mei Wei Hiroshi Yuki Minh Thảo Ngọc Chidi Ngozi "
    "Kwame Ama Αλέξανδρος Μαρία Иван Ольга محمد فاطمة 芳 伟 प्रिया राहुल"
).split(" ")
RARE_STARTS = "Ash Bar Bram Cal Dun Fen Gar Hol Kel Lin Mor Nor Pen Quil Rad Stan Thorn Wen Ald Brack Crom".split()  # noqa: SIM905
RARE_ENDS = "ford ton ley by wick ham well more field worth stead croft hurst dale combe bury".split()  # noqa: SIM905
ALLERGENS = (
    "Penicillin",
    "Amoxicillin",
    "Aspirin",
    "Ibuprofen",
    "Codeine",
    "Latex",
    "Peanuts",
    "Shellfish",
    "Sulfonamides",
    "Eggs",
    "Iodine contrast",
    "Bee stings",
)
DIAGNOSES = (
    ("J45.20", "Asthma, mild intermittent"),
    ("I10", "Essential hypertension"),
    ("E11.9", "Type 2 diabetes without complications"),
    ("J06.9", "Upper respiratory tract infection"),
    ("M54.5", "Low back pain"),
    ("K21.9", "Gastro-oesophageal reflux disease"),
    ("N39.0", "Urinary tract infection"),
    ("L30.9", "Dermatitis"),
    ("F41.1", "Generalised anxiety disorder"),
    ("R51", "Headache"),
)
MEDICINES = (
    ("Salbutamol", "100 micrograms", "2 puffs", "when needed", "ongoing"),
    ("Amlodipine", "5 mg", "1 tablet", "once a day", "28 days"),
    ("Metformin", "500 mg", "1 tablet", "twice a day", "28 days"),
    ("Amoxicillin", "500 mg", "1 capsule", "three times a day", "7 days"),
    ("Paracetamol", "500 mg", "2 tablets", "every 6 hours", "5 days"),
    ("Omeprazole", "20 mg", "1 capsule", "once a day", "56 days"),
    ("Nitrofurantoin", "100 mg", "1 capsule", "twice a day", "3 days"),
    ("Hydrocortisone cream", "1%", "thin layer", "twice a day", "7 days"),
    ("Sertraline", "50 mg", "1 tablet", "once a day", "28 days"),
)
TREATMENTS = (
    ("Consultation", "CONS", 15),
    ("Follow-up consultation", "FUP", 10),
    ("Dressing", "DRESS", 20),
    ("Blood test", "BLOOD", 10),
    ("Spirometry", "SPIRO", 30),
    ("ECG", "ECG", 20),
)


# --- the data -------------------------------------------------------------------------------------------------


def _copy(model: Any, objects: Iterable[Any]) -> None:
    """COPY model instances into their table: every concrete column but an auto id, with the
    fields' own defaults (set when the instance was made) and their own conversion."""
    from django.db import connection
    from django.db.models.fields import AutoFieldMixin
    from django.utils import timezone

    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            values = []
            for f in fields:
                value = getattr(obj, f.attname)
                if value is None and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)):
                    value = now
                values.append(f.get_db_prep_save(value, connection))
            copy.write_row(values)


@dataclass
class Filled:
    patients: int
    phones: list[str]
    mrns: list[str]
    identifiers: int
    allergies: int


def _surname(rng: random.Random, weights: list[float]) -> str:
    # A third of the branch has a rare surname: the long tail that a common fragment never matches.
    if rng.random() < 0.35:
        return rng.choice(RARE_STARTS) + rng.choice(RARE_ENDS)
    surname = rng.choices(SURNAMES, weights)[0]
    if rng.random() < 0.02:
        surname = f"{surname}-{rng.choices(SURNAMES, weights)[0]}"
    return surname


def _full_name(rng: random.Random, weights: list[float]) -> str:
    first = rng.choice(FIRST_NAMES)
    if rng.random() < 0.12:
        first = f"{first} {rng.choice(FIRST_NAMES)}"
    return f"{first} {_surname(rng, weights)}"


def _phone(rng: random.Random) -> str:
    """A valid British number in E.164: mobiles, London, Manchester, Birmingham."""
    while True:
        kind = rng.random()
        if kind < 0.55:
            number = f"+447{rng.choice('4579')}{rng.randint(0, 99_999_999):08d}"
        elif kind < 0.8:
            number = f"+4420{rng.choice('378')}{rng.randint(0, 9_999_999):07d}"
        elif kind < 0.9:
            number = f"+44161{rng.randint(2_000_000, 9_999_999):07d}"
        else:
            number = f"+44121{rng.randint(2_000_000, 7_999_999):07d}"
        # What phone_e164 would store, so a number typed at the desk finds it.
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def _patients_fill(*, n: int, rng: random.Random, prefix: str, registered_by: Any) -> Filled:
    from django.db import connection
    from django.utils import timezone

    from clinical.models import Allergy, AllergySeverity, Gender, IdentifierKind, Patient, PatientIdentifier
    from clinical.normalise import identifier_normalise, name_for_search

    weights = [1 / (rank**0.7) for rank in range(1, len(SURNAMES) + 1)]
    now = timezone.now()
    today = now.date()
    patients, identifiers, allergies, phones = [], [], [], []
    for number in range(1, n + 1):
        unidentified = rng.random() < 0.002
        name = "" if unidentified else _full_name(rng, weights)
        phone = ""
        if rng.random() < 0.7:
            # A family shares a number: the second child registered on a parent's phone.
            phone = rng.choice(phones) if phones and rng.random() < 0.12 else _phone(rng)
            phones.append(phone)
        patient = Patient(
            mrn=f"{prefix}{number:06d}",
            full_name=name,
            unidentified=unidentified,
            description="Man, about 40, brought in by ambulance, no documents" if unidentified else "",
            name_search=name_for_search(name),
            gender=rng.choice((Gender.FEMALE, Gender.MALE, Gender.FEMALE, Gender.MALE, Gender.OTHER)),
            date_of_birth=today - dt.timedelta(days=rng.randint(0, 100 * 365)),
            date_of_birth_estimated=unidentified,
            phone=phone,
            email=f"patient{number}@example.org" if rng.random() < 0.4 else "",
            address=f"{rng.randint(1, 250)} {rng.choice(('High', 'Station', 'Church', 'Mill'))} Street, London",
            chronic_conditions="Asthma" if rng.random() < 0.1 else "",
            registered_at=now - dt.timedelta(minutes=rng.randint(0, 10 * 365 * 24 * 60)),
            registered_by=registered_by,
        )
        patients.append(patient)
        if rng.random() < 0.35:
            value = f"{4_000_000_000 + number * 7:010d}"
            value = f"{value[:3]} {value[3:6]} {value[6:]}"
            identifiers.append((patient, IdentifierKind.NATIONAL_HEALTH_ID, value))
        if rng.random() < 0.05:
            identifiers.append((patient, IdentifierKind.PASSPORT, f"{rng.choice('ABCDEFGHK')}{number:08d}"))
        if rng.random() < 0.08:
            identifiers.append((patient, IdentifierKind.PREVIOUS_MRN, f"OLD-{number}"))
        if rng.random() < 0.15:
            for substance in rng.sample(ALLERGENS, rng.choice((1, 1, 2, 3))):
                severity = rng.choice(list(AllergySeverity))
                allergies.append(Allergy(patient=patient, substance=substance, severity=severity))

    _copy(Patient, patients)
    _copy(
        PatientIdentifier,
        (
            PatientIdentifier(patient=p, kind=kind, value=value, value_normalised=identifier_normalise(value))
            for p, kind, value in identifiers
        ),
    )
    _copy(Allergy, allergies)
    with connection.cursor() as cursor:
        # The next registration continues after the numbers used here.
        cursor.execute("SELECT setval('clinical_mrn', %s)", [n])
    return Filled(
        patients=n,
        phones=phones,
        mrns=[p.mrn for p in patients],
        identifiers=len(identifiers),
        allergies=len(allergies),
    )


def _visits_fill(*, patient: Any, doctor: Any, visits: int, corrections: int, rng: random.Random) -> tuple[int, int]:
    """``visits`` current records for one patient, ``corrections`` of them corrected once (the
    old version kept), most with a prescription of 1 to 4 lines. Returns (records, lines)."""
    from django.utils import timezone

    from clinical.models import Prescription, PrescriptionLine, TreatmentRecord
    from clinical.services import treatment_save

    treatments = [treatment_save(data={"name": n, "code": c, "duration_minutes": m}) for n, c, m in TREATMENTS]
    now = timezone.now()
    # Two corrections among the newest visits, so the first page of the timeline shows them.
    corrections = min(corrections, visits)
    corrected = set(range(min(2, corrections))) | set(rng.sample(range(2, visits), max(0, corrections - 2)))
    records, prescriptions, lines = [], [], []

    def add(record: TreatmentRecord) -> None:
        records.append(record)
        if rng.random() < 0.8:
            prescription = Prescription(record=record, created_at=record.recorded_at)
            prescriptions.append(prescription)
            for position, medicine in enumerate(rng.sample(MEDICINES, rng.randint(1, 4)), start=1):
                name, strength, dose, frequency, duration = medicine
                lines.append(
                    PrescriptionLine(
                        prescription=prescription,
                        position=position,
                        medicine=name,
                        strength=strength,
                        dose=dose,
                        frequency=frequency,
                        duration=duration,
                        instructions="Take with food." if position == 1 else "",
                    )
                )

    for i in range(visits):
        visit_at = now - dt.timedelta(days=i * 7, minutes=rng.randint(0, 600))
        code, diagnosis = rng.choice(DIAGNOSES)
        fields = {
            "patient": patient,
            "doctor": doctor,
            "treatment": rng.choice(treatments),
            "visit_at": visit_at,
            "diagnosis": diagnosis,
            "icd10_code": code,
            "clinical_notes": (
                f"Seen for {diagnosis.lower()}. Examination unremarkable apart from the presenting complaint; "
                "observations within normal limits. Discussed options and agreed a plan with the patient."
            ),
            "patient_advice": "Rest, fluids, return if worse or not better within a week.",
        }
        first_id = uuid.uuid4()
        first = TreatmentRecord(
            id=first_id,
            lineage=first_id,
            recorded_at=visit_at + dt.timedelta(minutes=20),
            is_current=i not in corrected,
            **fields,
        )
        add(first)
        if i in corrected:
            add(
                TreatmentRecord(
                    lineage=first_id,
                    version=2,
                    correction_reason="Wrong dose recorded.",
                    recorded_at=visit_at + dt.timedelta(hours=2),
                    **fields,
                )
            )
    _copy(TreatmentRecord, records)
    _copy(Prescription, prescriptions)
    _copy(PrescriptionLine, lines)
    return len(records), len(lines)


# --- measuring -------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    label: str
    http_ms: list[float]
    sql_ms: list[float] | None = None
    matches: list[int] | None = None
    terms: int = 0
    # What one request sends to the database, and how many of those only set the search path.
    statements: int = 0
    search_path_sets: int = 0


def _requests_time(
    client: Any, paths: list[str], *, warmup: int, repeat: int, check: Callable[[dict], int]
) -> tuple[list[float], list[int]]:
    """Milliseconds per request over ``repeat`` requests (paths taken in turn), after ``warmup``.
    ``check`` refuses a wrong answer and says how many patients matched."""
    seconds, matches = [], []
    for i in range(warmup + repeat):
        path = paths[i % len(paths)]
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
        matched = check(response.json())
        if i >= warmup:
            seconds.append(elapsed * 1000)
            matches.append(matched)
    return seconds, matches


def _request_statements(client: Any, path: str) -> tuple[int, int]:
    """How many statements one request sends, and how many of them are django-tenants'
    `SET search_path` (issued before every statement)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    sets = sum(1 for q in captured.captured_queries if q["sql"].startswith("SET search_path"))
    return len(captured.captured_queries), sets


def _round_trips_time(*, repeat: int) -> list[float]:
    """Milliseconds of `SELECT 1`: what one statement costs on this machine right now, whatever
    it does. On a loaded machine this is what a request of many statements pays for each."""
    from django.db import connection

    seconds = []
    with connection.cursor() as cursor:
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            seconds.append((time.perf_counter() - started) * 1000)
    return seconds


def _search_statements(user: Any, term: str) -> list[str]:
    """The SQL one call of the search selector runs for ``term``, as it was sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clinical.selectors import patient_search

    with CaptureQueriesContext(connection) as captured:
        patient_search(user=user, search=term)
    # django-tenants sets the search path before each statement; that is not the search.
    statements = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")]
    # With server-side binding the captured text would hold placeholders, not the values.
    if not statements or connection.settings_dict["OPTIONS"].get("server_side_binding"):
        raise SystemExit(f"could not capture the search SQL for {term!r}: {statements}")
    return statements


def _statements_time(statement_sets: list[list[str]], *, warmup: int, repeat: int) -> list[float]:
    """Milliseconds per search: every statement of its set executed and fetched, in turn."""
    from django.db import connection

    seconds = []
    with connection.cursor() as cursor:
        for i in range(warmup + repeat):
            started = time.perf_counter()
            for sql in statement_sets[i % len(statement_sets)]:
                cursor.execute(sql)
                cursor.fetchall()
            elapsed = time.perf_counter() - started
            if i >= warmup:
                seconds.append(elapsed * 1000)
    return seconds


def _explain(sql: str) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def _plan_lines(node: dict, depth: int = 0) -> Iterator[str]:
    label = node["Node Type"]
    if node.get("Index Name"):
        label += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        label += f" on {node['Relation Name']}"
    if node.get("Filter"):
        label += f"  filter: {node['Filter'][:110]}"
    label += f"  (rows {node['Actual Rows']}, loops {node['Actual Loops']}, {node['Actual Total Time']:.2f} ms)"
    yield "    " + "  " * depth + label
    for child in node.get("Plans", []):
        yield from _plan_lines(child, depth + 1)


def _indexes_used(node: dict) -> set[str]:
    names = {node["Index Name"]} if node.get("Index Name") else set()
    for child in node.get("Plans", []):
        names |= _indexes_used(child)
    return names


def _plans_print(label: str, term: str, statements: list[str]) -> None:
    print(f"{label} plans for {term!r}:", flush=True)
    for sql in statements:
        explained = _explain(sql)
        top = explained["Plan"]
        kind = "count" if "COUNT(*)" in sql else "page"
        print(f"  {kind} query: {top['Node Type']} at the top, execution {explained['Execution Time']:.2f} ms")
        for line in _plan_lines(top):
            print(line)
        indexes = _indexes_used(top)
        print(f"  indexes used: {', '.join(sorted(indexes)) or 'none'}", flush=True)
        if label == "name search":
            used = "yes" if TRIGRAM_INDEX in indexes else "NO"
            print(f"  trigram index {TRIGRAM_INDEX} used: {used}", flush=True)


# --- the run ---------------------------------------------------------------------------------------------------


def _name_fragments(rng: random.Random) -> list[str]:
    """What the desk types for a common surname: its first 3 to 5 letters, lower case."""
    from clinical.normalise import name_for_search

    common = [s for s in SURNAMES[:40] if s.isascii()]
    return [name_for_search(s[: rng.randint(3, 5)]) for s in common]


def _vacuum_analyze(*tables: str) -> None:
    """What autovacuum has long done on a live branch: statistics, hint bits, and the trigram
    index's pending list merged. A fresh bulk load leaves all three undone."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def _measure(branch: Branch, filled: Filled, busy: Any, args: argparse.Namespace, rng: random.Random) -> list[Figures]:
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from accounts.tokens import tokens_issue

    phones = rng.sample(sorted(set(filled.phones)), 50)
    # As the desk types them: "020 7946 0018" for a stored +442079460018.
    national = [
        phonenumbers.format_number(phonenumbers.parse(p), phonenumbers.PhoneNumberFormat.NATIONAL) for p in phones
    ]
    typed_mrns = [m.lower() if i % 3 == 0 else m for i, m in enumerate(rng.sample(filled.mrns, 50))]
    searches = {"name search": _name_fragments(rng), "phone search": national, "MRN search": typed_mrns}
    with schema_context(branch.hospital.schema_name):
        connection.set_tenant(branch.hospital)
        desk_token = tokens_issue(user=branch.receptionist).access
        doctor_token = tokens_issue(user=branch.doctor).access
        statements = {
            label: [_search_statements(branch.receptionist, t) for t in terms] for label, terms in searches.items()
        }
    desk = Client(HTTP_HOST=branch.host, HTTP_AUTHORIZATION=f"Bearer {desk_token}")
    clinic = Client(HTTP_HOST=branch.host, HTTP_AUTHORIZATION=f"Bearer {doctor_token}")
    phone_of = dict(zip(national, phones, strict=True))

    def found_some(body: dict) -> int:
        if body["count"] < 1:
            raise SystemExit(f"a search found nobody: {body}")
        return body["count"]

    def found_the_phone(body: dict) -> int:
        if body["count"] < 1 or len({item["phone"] for item in body["items"]}) != 1:
            raise SystemExit(f"a phone search found nobody, or several numbers: {body}")
        return body["count"]

    def found_the_mrn(body: dict) -> int:
        if body["count"] != 1:
            raise SystemExit(f"an MRN search found {body['count']} patients")
        return 1

    def profile_ok(body: dict) -> int:
        if body["id"] != str(busy.pk) or len(body["recent_treatments"]) != 10:
            raise SystemExit(f"unexpected profile: {str(body)[:300]}")
        return 1

    def timeline_ok(body: dict) -> int:
        if body["count"] != args.visits or len(body["items"]) != 20:
            raise SystemExit(f"unexpected timeline: count {body['count']}, {len(body['items'])} items")
        if not any(item["earlier_versions"] for item in body["items"]):
            raise SystemExit("the first page of the timeline shows no correction")
        return 1

    print(f"measuring: {args.warmup} warm-up then {args.repeat} timed requests of each kind", flush=True)
    figures = []
    checks = {"name search": found_some, "phone search": found_the_phone, "MRN search": found_the_mrn}
    for label, terms in searches.items():
        paths = [f"/api/patients/?{urlencode({'search': t})}" for t in terms]
        http_ms, matches = _requests_time(desk, paths, warmup=args.warmup, repeat=args.repeat, check=checks[label])
        figures.append(Figures(label, http_ms, matches=matches))
        figures[-1].statements, figures[-1].search_path_sets = _request_statements(desk, paths[0])
    if args.profile:
        import cProfile
        import pstats

        for who, paths in (
            (desk, [f"/api/patients/?{urlencode({'search': t})}" for t in searches["name search"]]),
            (clinic, [f"/api/patients/{busy.pk}/timeline/"] * 20),
        ):
            profiler = cProfile.Profile()
            profiler.enable()
            for path in paths * 3:
                who.get(path)
            profiler.disable()
            print(f"--- where {paths[0]} spends its time", flush=True)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    for number in national[:5]:
        body = desk.get(f"/api/patients/?{urlencode({'search': number})}").json()
        if body["items"][0]["phone"] != phone_of[number]:
            raise SystemExit(f"the phone search for {number!r} found someone else")
    for label, path, check in (
        ("profile", f"/api/patients/{busy.pk}/", profile_ok),
        ("timeline", f"/api/patients/{busy.pk}/timeline/", timeline_ok),
    ):
        http_ms, _ = _requests_time(clinic, [path], warmup=args.warmup, repeat=args.repeat, check=check)
        figures.append(Figures(label, http_ms))
        figures[-1].statements, figures[-1].search_path_sets = _request_statements(clinic, path)

    with schema_context(branch.hospital.schema_name):
        connection.set_tenant(branch.hospital)
        round_trips = _round_trips_time(repeat=args.repeat)
        print(
            f"database round trip (SELECT 1): p50 {p50(round_trips):.2f} ms p95 {p95(round_trips):.2f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )
        for figure in figures:
            if figure.label in statements:
                figure.sql_ms = _statements_time(statements[figure.label], warmup=args.warmup, repeat=args.repeat)
                figure.terms = len(searches[figure.label])
        _plans_print("name search", searches["name search"][0], statements["name search"][0])
        # Where a search misses the target, its plan says why.
        for figure in figures:
            if figure.label in statements and figure.label != "name search" and p95(figure.http_ms) >= TARGET_MS:
                _plans_print(figure.label, searches[figure.label][0], statements[figure.label][0])
    return figures


def _report(figures: list[Figures], *, patients: int, fill_seconds: float) -> None:
    for figure in figures:
        if figure.matches:
            print(
                f"{figure.label}: {figure.terms} terms, {min(figure.matches):,} to {max(figure.matches):,} "
                f"patients matched (median {int(statistics.median(figure.matches)):,})"
            )
    for figure in figures:
        print(
            f"{figure.label}: {figure.statements} statements per request, "
            f"{figure.search_path_sets} of them SET search_path"
        )
    print(f"fill: {patients:,} patients in {fill_seconds:.1f} s")
    for figure in figures:
        line = f"{figure.label:<15} p50 {p50(figure.http_ms):5.1f} ms  p95 {p95(figure.http_ms):5.1f} ms"
        if figure.sql_ms:
            line += f"   (SQL p50 {p50(figure.sql_ms):.1f} ms p95 {p95(figure.sql_ms):.1f} ms)"
        print(line)
    missed = [f.label for f in figures if p95(f.http_ms) >= TARGET_MS]
    verdict = "met" if not missed else f"NOT met ({', '.join(missed)})"
    print(f"target: every p95 under {TARGET_MS:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=500, help="visits of the busy patient")
    parser.add_argument("--corrections", type=int, default=12, help="of those visits, how many were corrected")
    parser.add_argument("--repeat", type=int, default=200, help="timed requests of each kind")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests of each kind first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="also print where a name search spends its time")
    args = parser.parse_args()
    # Synthetic data, not secrets: a seeded generator makes runs comparable.
    rng = random.Random(args.seed)  # noqa: S311

    from bench._db import bench_database_create, bench_database_drop, branch_onboard

    bench_database_create(BENCH_DB)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, transaction
        from django_tenants.utils import schema_context

        from clinical.models import Patient
        from clinical.services import patient_assign_doctor

        print("migrating the bench database and the template...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
        branch = branch_onboard(SLUG)
        with schema_context(branch.hospital.schema_name):
            connection.set_tenant(branch.hospital)
            print(f"filling {args.patients:,} patients...", flush=True)
            started = time.perf_counter()
            with transaction.atomic():
                filled = _patients_fill(
                    n=args.patients, rng=rng, prefix=branch.hospital.mrn_prefix, registered_by=branch.receptionist
                )
            copied = time.perf_counter() - started
            _vacuum_analyze("clinical_patient", "clinical_patientidentifier", "clinical_allergy")
            fill_seconds = time.perf_counter() - started
            print(
                f"fill: {filled.patients:,} patients ({len(filled.phones):,} with a phone, "
                f"{len(set(filled.phones)):,} distinct numbers), {filled.identifiers:,} identifiers, "
                f"{filled.allergies:,} allergies in {fill_seconds:.1f} s "
                f"(made and copied in {copied:.1f} s, VACUUM ANALYZE {fill_seconds - copied:.1f} s)",
                flush=True,
            )

            busy = Patient.objects.get(mrn=filled.mrns[len(filled.mrns) // 2])
            started = time.perf_counter()
            with transaction.atomic():
                records, lines = _visits_fill(
                    patient=busy, doctor=branch.doctor, visits=args.visits, corrections=args.corrections, rng=rng
                )
            patient_assign_doctor(patient=busy, doctor=branch.doctor, actor=branch.admin, reason="bench")
            _vacuum_analyze("clinical_treatmentrecord", "clinical_prescription", "clinical_prescriptionline")
            print(
                f"busy patient {busy.mrn}: {args.visits} visits ({records} record versions, "
                f"{args.corrections} corrected), {lines:,} prescription lines in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        figures = _measure(branch, filled, busy, args, rng)
    finally:
        bench_database_drop(BENCH_DB)
    _report(figures, patients=args.patients, fill_seconds=fill_seconds)


if __name__ == "__main__":
    main()
