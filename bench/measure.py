"""Measure one registry size, in-process, run by ``bench/run.py`` once per size (over 500 lines: one run, one process).

Why a subprocess per size: Django reads ``DATABASE_URL`` once, at import, so each bench database
needs its own interpreter. This script migrates the database, generates the registry unless a
marker row says this size and seed are already there, then times every target and prints one
JSON document on stdout.

Each target is a small function that returns ``None`` when what it measures is not built yet (an
import or a URL does not resolve), so the same command measures more as branches are merged. For
each available target it records the median and p95 of repeated runs, the SQL query count, and
the floor: bare SQL returning the same rows through a plain cursor (no ORM, no serializer, no
template), the time no framework can beat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_dev")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from bench import floors  # noqa: E402
from devdata import synthetic  # noqa: E402
from registry.models import Patient, RefillMonth, Reminder  # noqa: E402

MARKER = "bench_registry_marker"


@dataclass
class Target:
    """What to run, and the bare SQL that returns the same rows."""

    run: Callable[[], object]
    floor: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None  # after the timings (e.g. roll back a setup)
    # Before each timed run, untimed: a cold page's cache emptied, as a write leaves it.
    before: Callable[[], object] | None = None
    # (target's answer, floor's answer) -> the two in one comparable shape: the floor is timed
    # only when they are equal, so no ratio is taken against a query that answers another question.
    same: Callable[[object, object], tuple[object, object]] | None = None


@dataclass
class Measurement:
    name: str
    available: bool
    reason: str = ""
    median_ms: float | None = None
    p95_ms: float | None = None
    queries: int | None = None
    floor_ms: float | None = None
    ratio: float | None = None
    floor_check: str = ""  # "equal", "differs: ..." or "" (no floor, or nothing to compare)


# --- generation ------------------------------------------------------------------------------
def ensure_registry(patients: int, seed: int, force: bool) -> dict:
    """Generate the registry unless the marker says this size and seed are already in place."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKER} (patients integer, seed integer, "
            "generated_at timestamptz, seconds double precision, rows jsonb)"
        )
        cursor.execute(f"SELECT patients, seed, generated_at, seconds, rows FROM {MARKER}")  # noqa: S608
        row = cursor.fetchone()
    if row and isinstance(row[4], str):
        row = (*row[:4], json.loads(row[4]))
    if row and row[0] == patients and row[1] == seed and not force and Patient.objects.count() == patients:
        # As autovacuum would (it may be off on a test server): fast once the tables are clean.
        with connection.cursor() as cursor:
            # The reminders too: every timed sweep inserts then rolls back thousands of them; and
            # the refills' monthly rollup, written by triggers, which the report reads from its index.
            tables = [m._meta.db_table for m in [*synthetic.ORDER, Reminder, RefillMonth]]
            cursor.execute("VACUUM (ANALYZE) " + ", ".join(tables))
        return {"skipped": True, "generated_at": row[2].isoformat(), "seconds": row[3], "rows": row[4]}
    synthetic.clear_registry()
    result = synthetic.generate(patients=patients, seed=seed, progress=synthetic.stderr_progress)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {MARKER} VALUES (%s, %s, now(), %s, %s)",  # noqa: S608
            [patients, seed, result.seconds, Jsonb(result.rows)],
        )
    return {"skipped": False, "seconds": result.seconds, "rows": result.rows}


class QueryCounter:
    """Counts every statement on the connection (a request resets ``connection.queries``)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# --- timing ----------------------------------------------------------------------------------
def _times(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> list[float]:
    started = time.perf_counter()
    fn()  # warm caches and connections once
    if time.perf_counter() - started > 1:
        repeat = min(repeat, 3)  # seconds-long targets: three runs say enough
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(name: str, build: Callable[[], Target | None], repeat: int) -> Measurement:
    try:
        target = build()
    except Resolver404 as exc:
        return Measurement(name, False, f"n/a (not built yet: no URL /{exc.args[0].get('path', '')})")
    except ImportError as exc:
        return Measurement(name, False, f"n/a (not built yet: no module {exc.name})")
    except AttributeError as exc:
        return Measurement(name, False, f"n/a (not built yet: {exc})")
    counter = QueryCounter()
    if target.before is not None:
        target.before()
    with connection.execute_wrapper(counter):
        answer = target.run()
    times = _times(target.run, repeat, target.before)
    result = Measurement(name, True, median_ms=statistics.median(times), p95_ms=_p95(times), queries=counter.count)
    if target.floor is not None and target.same is not None:
        ours, floor = target.same(answer, target.floor())
        result.floor_check = "equal" if ours == floor else f"differs: {_difference(ours, floor)}"
    if target.floor is not None and not result.floor_check.startswith("differs"):
        result.floor_ms = statistics.median(_times(target.floor, repeat))
        result.ratio = result.median_ms / result.floor_ms if result.floor_ms else None
    if target.teardown is not None:
        target.teardown()
    return result


def _difference(ours, floor) -> str:
    """Where the target's answer and the floor's part (the first differing item), briefly."""
    if isinstance(ours, dict) and isinstance(floor, dict):
        keys = [k for k in {**ours, **floor} if ours.get(k) != floor.get(k)]
        return "; ".join(f"{k}: {ours.get(k)!r} vs {floor.get(k)!r}" for k in keys[:4])
    if isinstance(ours, list | tuple) and isinstance(floor, list | tuple):
        if len(ours) != len(floor):
            return f"{len(ours)} items vs {len(floor)}"
        i = next(i for i, (a, b) in enumerate(zip(ours, floor, strict=True)) if a != b)
        return f"item {i}: {_difference(ours[i], floor[i])}"
    return f"{ours!r:.200} vs {floor!r:.200}"


def calibration() -> dict:
    """How fast this host is right now, so runs on different hosts (or loads) can be compared:
    a bare Python loop, a bare SQL aggregate, the 1-minute load average and the CPU count."""

    def loop():
        total = 0
        for i in range(10_000_000):
            total += i
        return total

    def sql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(i) FROM generate_series(1, 1000000) i")
            return cursor.fetchone()

    return {
        "python_loop_s": statistics.median(_times(loop, 3)) / 1000,
        "sql_sum_ms": statistics.median(_times(sql, 5)),
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }


# --- targets ---------------------------------------------------------------------------------
class Context:
    """What the targets share: today's window, a sample patient, an admin with a token."""

    def __init__(self):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        self.admin, _ = User.objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )
        self.now = timezone.now()
        self.today = self.now.date()
        self.end = self.today + dt.timedelta(days=14)
        implanted = Patient.objects.filter(status="implanted", next_refill_due__isnull=False).order_by("pk")
        self.patient_id = implanted.values_list("pk", flat=True)[implanted.count() // 2]
        self.session = Client()
        self.session.force_login(self.admin)
        self._pass_second_factor(self.session, self.admin)
        # A nurse coordinator of the sample patient's site: what most users load (one clinic's
        # patients, about 2,500 at 100,000), beside the administrator's program-wide view.
        from registry.models import StaffProfile

        self.coordinator, _ = User.objects.get_or_create(username="bench-coordinator")
        profile, _ = StaffProfile.objects.get_or_create(
            user=self.coordinator, defaults={"role": StaffProfile.Role.COORDINATOR}
        )
        profile.sites.set([Patient.objects.get(pk=self.patient_id).site_id])

    @staticmethod
    def _pass_second_factor(client: Client, user) -> None:
        """An administrator's dashboard needs two factors: the session passes the second, as if
        the code had been typed (the bench user's authenticator, made once)."""
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="Bench authenticator", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    def token_client(self, user=None) -> Client:
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=user or self.admin)
        return Client(headers={"Authorization": f"Token {token.key}"})


def _get(client: Client, url: str) -> Callable[[], object]:
    """A GET of ``url``, answered 200."""
    resolve(url.split("?")[0])  # Resolver404 when the endpoint is not built yet

    def run():
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} returned {response.status_code}")
        return response.content

    run()
    return run


def _cold() -> Callable[[], object]:
    """Empties the cached pages (api/caching.py) before a timed run: the first read after a write.
    Targets named "cached page" are timed without it: every repetition is a hit."""
    from api.caching import forget_pages

    return forget_pages


def _optional(module: str, attribute: str):
    return getattr(importlib.import_module(module), attribute)


# --- the target's answer and the floor's, in one shape ------------------------------------------


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _page_items(page, rows) -> tuple:
    """``worklist_page``'s answer against ``floors.worklist_page``'s (total, rows)."""
    items = [
        (
            i.kind,
            i.status,
            i.due_date,
            i.patient.pk,
            i.target_id,
            i.patient.mrn,
            i.patient.family_name,
            i.patient.given_name,
            i.patient.site.name,
        )
        for i in page.items
    ]
    total, floor = rows
    return (page.total, items), (total, [(r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[8], r[11]) for r in floor])


def _full_items(items, rows) -> tuple:
    return [(i.kind, i.status, i.due_date, i.patient.pk, i.target_id) for i in items], [r[:2] + r[3:6] for r in rows]


def _api_worklist(content, rows) -> tuple:
    data = json.loads(content)
    ours = [
        (
            i["kind"],
            i["status"],
            i["due_date"],
            i["patient"],
            i["target_id"],
            i["mrn"],
            i["patient_name"],
            i["site"],
            i["urgency"],
            i["alarm_date"],
        )
        for i in data["results"]
    ]
    total, floor = rows
    theirs = [(r[0], r[1], _iso(r[3]), r[4], r[5], r[6], f"{r[7]}, {r[8]}", r[10], r[2], _iso(r[9])) for r in floor]
    return (data["count"], ours), (total, theirs)


def _api_patients(content, rows) -> tuple:
    data = json.loads(content)
    ours = [(p["id"], p["schedule"]["refill_status"], p["active_pump"]) for p in data["results"]]
    total, floor = rows
    return (data["count"], ours), (total, [(r[0], r[-2], r[-1]) for r in floor])


def _api_patient(content, row) -> tuple:
    data = json.loads(content)
    return (data["id"], data["schedule"]["refill_status"], data["active_pump"]), (row[0], row[-2], row[-1])


def _core_patients(answer, rows) -> tuple:
    count, patients = answer
    total, floor = rows
    return (count, [(p.pk, p.refill_status) for p in patients]), (total, [(r[0], r[-2]) for r in floor])


def _core_patient(answer, row) -> tuple:
    patient, refills = answer
    ours = (
        patient.pk,
        patient.refill_status,
        sorted(p.pk for p in patient.pumps.all()),
        sorted(i.pk for i in patient.indications.all()),
        [r.pk for r in refills],
    )
    return ours, (row[0], row[-4], sorted(row[-3]), sorted(row[-2]), list(row[-1]))


def _summary(report, figures) -> tuple:
    return floors.figures(report), figures


def _api_summary(content, figures) -> tuple:
    # Through JSON, as the API's answer is: tuples become lists, keys strings.
    return floors.figures(json.loads(content)), json.loads(json.dumps(figures))


_SECTION = re.compile(r'<table class="worklist" data-section="([a-z_]+)-([a-z]+)">(.*?)</table>', re.S)
_PATIENT = re.compile(r'data-patient="(\d+)"')
_OPTIONS = re.compile(r'<select name="(site|clinician)"[^>]*>(.*?)</select>', re.S)


def _dashboard(content, answer) -> tuple:
    """The page's rows (section, patient), its total, its filter options and inbox count."""
    html = content.decode()
    rows = [(k, st, int(pk)) for k, st, body in _SECTION.findall(html) for pk in _PATIENT.findall(body)]
    shown = re.search(r"most urgent of (more than )?(\d+) items", html)
    options = {name: len(re.findall(r'<option value="\d+"', body)) for name, body in _OPTIONS.findall(html)}
    inbox = int(re.search(r'id="reminder-count"[^>]*data-count="(\d+)"', html).group(1))
    total = int(shown.group(2)) + bool(shown.group(1)) if shown else len(rows)  # "more than N": N + 1
    ours = (total, rows, options, inbox)
    total, floor, extra = answer
    kinds = [row[0] for row in extra]
    theirs = (
        total,
        [(r[0], r[1], r[4]) for r in floor],
        {"site": kinds.count("site"), "clinician": kinds.count("clinician")},
        next(row[1] for row in extra if row[0] == "open_reminders"),
    )
    return ours, theirs


def targets(ctx: Context) -> list[tuple[str, Callable[[], Target | None]]]:
    from registry import selectors

    def core_worklist_full():
        return Target(
            lambda: selectors.worklist_page(start=ctx.today, end=ctx.end, limit=10**7, count=False).items,
            lambda: floors.worklist(ctx.today, ctx.end),
            same=_full_items,
        )

    # Every paged worklist counts up to a limit and one more (the API's), as its floor then does;
    # the exact total of every item is the "every item" target's work.
    from api.views.worklist import COUNT_LIMIT as api_count_limit

    def core_worklist_page():
        fn = _optional("registry.selectors", "worklist_page")
        return Target(
            lambda: fn(start=ctx.today, end=ctx.end, offset=0, limit=50, count_limit=api_count_limit),
            lambda: floors.worklist_page(ctx.today, ctx.end, count_limit=api_count_limit),
            same=_page_items,
        )

    def core_patient_list():
        from registry.selectors.paging import CountingPaginator

        def run():
            qs = selectors.with_refill_status(Patient.objects.select_related("site", "primary_clinician"))
            page = CountingPaginator(qs.order_by("family_name", "given_name", "id"), 50, asked="1").page(1)
            return page.paginator.count, list(page.object_list)

        return Target(run, floors.patient_list, same=_core_patients)

    def core_patient_detail():
        # One patient as the app reads one (``patient_record``, the patient page's read): the refill
        # status from the loaded site in Python; the SQL rule is the lists', it reads every site's day first.
        def run():
            patient = selectors.patient_record(Patient.objects.all(), ctx.patient_id)
            patient.refill_status = selectors.patient_refill_status(patient)
            return patient, patient.recent_refills

        return Target(run, lambda: floors.patient_detail(ctx.patient_id), same=_core_patient)

    def sweep():
        fn = _optional("registry.services.reminders", "sweep")

        def run():
            with transaction.atomic():  # every run does the full work: roll the reminders back
                fn(now=ctx.now)
                transaction.set_rollback(True)

        return Target(run, lambda: floors.sweep(ctx.today))

    def sweep_steady():
        """A sweep after today's first one: what the 5-minute beat schedule runs all day.

        The first sweep runs untimed inside an outer transaction; each timed sweep runs in a
        savepoint rolled back after it; the teardown rolls the first sweep back too, so the
        bench database is left as it was.
        """
        fn = _optional("registry.services.reminders", "sweep")
        outer = transaction.atomic()
        outer.__enter__()
        fn(now=ctx.now, enqueue=lambda ids: None)

        def run():
            with transaction.atomic():
                fn(now=ctx.now, enqueue=lambda ids: None)
                transaction.set_rollback(True)

        def teardown():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)

        return Target(run, lambda: floors.sweep(ctx.today), teardown)

    def report_summary():
        fn = _optional("reporting.reports", "summary")
        start = ctx.today - dt.timedelta(days=365)
        return Target(
            lambda: fn(sites=None, start=start, end=ctx.today),
            lambda: floors.summary(start, ctx.today),
            same=_summary,
        )

    def dashboard_floor():
        return floors.dashboard(ctx.today, ctx.today + dt.timedelta(days=30), 200, 1000, ctx.admin.pk)

    api = ctx.token_client
    start, end = ctx.today.isoformat(), ctx.end.isoformat()
    return [
        (f"core: worklist page of 50, 14 days, total up to {api_count_limit:,}", core_worklist_page),
        ("core: worklist, every item, 14 days", core_worklist_full),
        ("core: patient list page of 50, total up to 10,000", core_patient_list),
        ("core: patient detail (ORM)", core_patient_detail),
        ("sweep: reminder sweep", sweep),
        ("sweep: steady state (after the day's first)", sweep_steady),
        (
            "api: patient list (page of 50)",
            lambda: Target(_get(api(), "/api/v1/patients/"), floors.patient_list, same=_api_patients, before=_cold()),
        ),
        (
            "api: patient list, cached page",
            lambda: Target(_get(api(), "/api/v1/patients/"), floors.patient_list, same=_api_patients),
        ),
        (
            "api: patient detail",
            lambda: Target(
                _get(api(), f"/api/v1/patients/{ctx.patient_id}/"),
                lambda: floors.patient_row_recorded(
                    ctx.patient_id, ctx.admin.pk, ctx.admin.username, f"/api/v1/patients/{ctx.patient_id}/"
                ),
                same=_api_patient,
            ),
        ),
        (
            "api: worklist, 14 days",
            lambda: Target(
                _get(api(), f"/api/v1/worklist/?start={start}&end={end}"),
                lambda: floors.worklist_page(ctx.today, ctx.end, count_limit=api_count_limit),
                same=_api_worklist,
                before=_cold(),
            ),
        ),
        (
            "api: worklist, 14 days, cached page",
            lambda: Target(
                _get(api(), f"/api/v1/worklist/?start={start}&end={end}"),
                lambda: floors.worklist_page(ctx.today, ctx.end, count_limit=api_count_limit),
                same=_api_worklist,
            ),
        ),
        (
            "api: summary report",
            lambda: Target(
                _get(api(), f"/api/v1/reports/summary/?start={ctx.today - dt.timedelta(days=365)}&end={ctx.today}"),
                lambda: floors.summary(ctx.today - dt.timedelta(days=365), ctx.today),
                same=_api_summary,
            ),
        ),
        ("report: summary() in-process", report_summary),
        (
            "api (one site's coordinator): patient list",
            lambda: Target(_get(ctx.token_client(ctx.coordinator), "/api/v1/patients/"), before=_cold()),
        ),
        (
            "api (one site's coordinator): worklist, 14 days",
            lambda: Target(
                _get(ctx.token_client(ctx.coordinator), f"/api/v1/worklist/?start={start}&end={end}"), before=_cold()
            ),
        ),
        (
            "dashboard: worklist page /",
            lambda: Target(_get(ctx.session, "/"), dashboard_floor, same=_dashboard, before=_cold()),
        ),
        (
            "dashboard: worklist page /, cached page",
            lambda: Target(_get(ctx.session, "/"), dashboard_floor, same=_dashboard),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--only", default="", help="Comma-separated substrings of target names to run.")
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    generation = ensure_registry(args.patients, args.seed, args.regenerate)
    results, host = [], {}
    if not args.generate_only:
        host = calibration()
        ctx = Context()
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        for name, build in targets(ctx):
            if wanted and not any(w in name for w in wanted):
                continue
            measurement = measure(name, build, args.repeat)
            print(f"  {name}: {measurement.median_ms or measurement.reason}", file=sys.stderr)
            results.append(asdict(measurement))
        host["load_average_after"] = os.getloadavg()[0]
    answer = {"patients": args.patients, "seed": args.seed, "generation": generation, "host": host}
    print(json.dumps({**answer, "targets": results}))


if __name__ == "__main__":
    main()
