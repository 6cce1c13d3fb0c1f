"""Scale benchmark: registries of several sizes on PostgreSQL, every target timed.

    python bench/run.py                              # 10k, 30k, 100k patients -> bench/results/<stamp>/
    python bench/run.py --sizes 10000 --repeat 5 --out /tmp/b

For each size it creates the database ``itb_bench_<size>`` if missing (on the server of
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432``), then runs
``bench/measure.py`` in a subprocess with ``DATABASE_URL`` pointing at it: migrate, generate the
registry unless it is already there (same size and seed), time each target. It writes
``results.json``, ``results.md`` (the table, with the budgets) and ``chart.svg`` (median time
against size, log-log) into the output folder and prints the table. Targets whose code is not
merged yet appear as "n/a (not built yet)"; re-run after merging to fill them in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
# Budgets at the largest size, by target-name prefix (first match): milliseconds and max ratio to floor.
BUDGETS = {
    "sweep": (2000, None),
    "api: patient list": (30, 5),
    "api: patient detail": (30, 5),
    "api: worklist": (30, 2),
    "api: summary": (1000, 0.5),
    "report:": (1000, 0.5),
    "dashboard: worklist page /, cached page": (10, None),
    "dashboard": (150, 3),
    "core: patient list": (30, 5),
    "core: patient detail": (30, 5),
    "core: worklist page": (30, 2),
}
# Pages whose time must not grow with the program (10k -> 100k within 1.5x).
PAGED = ("core: worklist page", "core: patient", "api: patient", "api: worklist", "api (one site", "dashboard")
COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4", "#b2182b"]


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def ensure_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", file=sys.stderr)


def measure_size(server: str, size: int, args) -> dict:
    name = f"{args.db_prefix}_{label(size)}"
    ensure_database(server, name)
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{name}",
        # In-process timings as in production: no per-query debug logging.
        "DEBUG": "false",
        # The page cache on Redis, as in production (api/caching.py).
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    command = [sys.executable, "bench/measure.py", "--patients", str(size), "--seed", str(args.seed)]
    command += ["--repeat", str(args.repeat)]
    if args.regenerate:
        command.append("--regenerate")
    if args.only:
        command += ["--only", args.only]
    print(f"== {size:,} patients ({name})", file=sys.stderr)
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _budget(name: str):
    return next((b for prefix, b in BUDGETS.items() if name.startswith(prefix)), (None, None))


def _ms(value) -> str:
    return "" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:.1f}")


def markdown(results: list[dict], repeat: int) -> str:
    lines = [
        f"# Scale benchmark — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"In-process timings, median and p95 of {repeat} runs after one warm-up; floor = hand-written SQL",
        "returning the same rows on a plain cursor (`bench/floors.py`); ratio = median / floor.",
        "",
        "## Generation",
        "",
        "| patients | generated in | rows |",
        "| ---: | ---: | --- |",
    ]
    for r in results:
        g = r["generation"]
        rows = g.get("rows") or {}
        rows = json.loads(rows) if isinstance(rows, str) else rows
        when = "earlier run" if g.get("skipped") else "this run"
        total, refills = sum(rows.values()), rows.get("refill", 0)
        lines.append(f"| {r['patients']:,} | {g['seconds']:.0f} s ({when}) | {total:,} ({refills:,} refills) |")
    lines += [
        "",
        "## This host",
        "",
        "Python: a bare loop of 10,000,000 additions; SQL: `SELECT sum(i) FROM generate_series(1, 1000000) i`.",
        "",
        "| patients | Python loop s | SQL ms | load average (1 min) before, after | CPUs |",
        "| ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        h = r.get("host") or {}
        if h:
            lines.append(
                f"| {r['patients']:,} | {h['python_loop_s']:.2f} | {h['sql_sum_ms']:.0f} | "
                f"{h['load_average']:.2f}, {h.get('load_average_after', 0):.2f} | {h['cpus']} |"
            )
    lines += [
        "",
        "## Targets",
        "",
        "Floor check: the floor's rows equal the target's (compared before timing); a floor that differs",
        "is not timed.",
        "",
        "| target | patients | median ms | p95 ms | queries | floor ms | ratio | floor check | budget at 100k |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    names = list(dict.fromkeys(t["name"] for r in results for t in r["targets"]))
    for name in names:
        limit, ratio = _budget(name)
        budget = "" if limit is None else f"< {limit:,} ms" + (f", ≤ {ratio}x floor" if ratio else "")
        for r in results:
            t = next((t for t in r["targets"] if t["name"] == name), None)
            if t is None:
                continue
            if not t["available"]:
                lines.append(f"| {name} | {r['patients']:,} | {t['reason']} | | | | | | {budget} |")
                continue
            ratio_text = "" if t["ratio"] is None else f"{t['ratio']:.1f}x"
            check = t.get("floor_check", "").replace("|", "/")
            lines.append(
                f"| {name} | {r['patients']:,} | {_ms(t['median_ms'])} | {_ms(t['p95_ms'])} | {t['queries']} | "
                f"{_ms(t['floor_ms'])} | {ratio_text} | {check} | {budget} |"
            )
    if len(results) > 1:
        small, big = results[0], results[-1]
        lines += [
            "",
            f"## Growth from {small['patients']:,} to {big['patients']:,} patients",
            "",
            "Paged endpoints should stay flat (within 1.5x); the sweep and the report grow at most linearly "
            f"({big['patients'] / small['patients']:.0f}x the patients).",
            "",
            "| target | growth |",
            "| --- | ---: |",
        ]
        for name in names:
            a = next((t for t in small["targets"] if t["name"] == name and t["available"]), None)
            b = next((t for t in big["targets"] if t["name"] == name and t["available"]), None)
            if a and b:
                lines.append(f"| {name} | {b['median_ms'] / a['median_ms']:.2f}x |")
    return "\n".join(lines) + "\n"


def budget_checks(results: list[dict], load: dict | None) -> list[str]:
    """Each budget at the largest size, met or not, with the figure that decides it."""
    small, big = results[0], results[-1]
    lines = []
    for t in big["targets"]:
        limit, ratio = _budget(t["name"])
        if not t["available"] or (limit is None and ratio is None):
            continue
        fast = limit is None or t["median_ms"] < limit
        close = ratio is None or (t["ratio"] is not None and t["ratio"] <= ratio)
        floor = "" if ratio is None else f", {t['ratio']:.1f}x its floor (≤ {ratio}x)" if t["ratio"] else ", no floor"
        verdict = "met" if fast and close else "**not met**"
        lines.append(f"- {verdict}: {t['name']}: {_ms(t['median_ms'])} ms (< {limit:,} ms){floor}")
    if len(results) > 1:
        for t in big["targets"]:
            a = next((x for x in small["targets"] if x["name"] == t["name"] and x["available"]), None)
            if a and t["available"] and t["name"].startswith(PAGED):
                growth = t["median_ms"] / a["median_ms"]
                verdict = "met" if growth <= 1.5 else "**not met**"
                sizes = f"{small['patients']:,} to {big['patients']:,}"
                lines.append(f"- {verdict}: {t['name']}: {growth:.2f}x from {sizes} (≤ 1.5x)")
    for name, share in (("api: patient list", 0.8), ("dashboard: worklist page /", 0.5)):
        f = (load or {}).get(name)
        if f and f.get("of_ceiling") is not None:
            verdict = "met" if f["of_ceiling"] >= share and f["errors"] == 0 else "**not met**"
            same_size = f.get("same_size_of_ceiling")
            reachable = "" if same_size is None else f"; a page of its size doing no work: {same_size:.2f}x"
            lines.append(
                f"- {verdict}: under load, {name}: {f['rps']:.0f} req/s, {f['of_ceiling']:.2f}x the ceiling "
                f"(≥ {share}x), {f['errors']} errors{reachable}"
            )
    return lines


def results_page(results: list[dict], load_md: str, load: dict | None, command: str, repeat: int) -> str:
    """``bench/RESULTS.md``: the command, this host, every table, the budgets met or not."""
    intro = [
        "# Scale benchmark",
        "",
        "Written by the command below; nothing in this file is edited by hand. The host's figures",
        "(a bare Python loop, a bare SQL aggregate, the load average) say how busy the machine was:",
        "compare ratios, query counts and growth across runs, not absolute times.",
        "",
        "```sh",
        command,
        "```",
        "",
    ]
    body = markdown(results, repeat).split("\n", 1)[1]
    checks = ["", "## Budgets", "", *budget_checks(results, load)]
    return (
        "\n".join(intro)
        + body
        + ("\n" + load_md.replace("# Load run", "## Load run") if load_md else "")
        + "\n".join(checks)
        + "\n"
    )


def run_load(server: str, size: int, args, out: Path) -> tuple[str, dict]:
    """``bench/load.py`` against the largest size's database, its table and figures."""
    env = {**os.environ, "BENCH_DATABASE_URL": server}
    command = [sys.executable, "bench/load.py", "--patients-db", f"{args.db_prefix}_{label(size)}"]
    subprocess.run([*command, "--duration", str(args.load), "--out", str(out)], cwd=ROOT, env=env, check=True)
    return (out / "load.md").read_text(), json.loads((out / "load.json").read_text())


def chart(results: list[dict]) -> str:
    """Median time against size, log-log, one line per target (a hand-written SVG)."""
    width, height, left, right, top, bottom = 900, 520, 70, 330, 30, 50
    series: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        for t in r["targets"]:
            if t["available"] and t["median_ms"]:
                series.setdefault(t["name"], []).append((r["patients"], t["median_ms"]))
    sizes = sorted({r["patients"] for r in results})
    values = [v for points in series.values() for _, v in points] or [1.0]
    xmin, xmax = math.log10(min(sizes)), math.log10(max(sizes))
    ymin, ymax = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    if xmax == xmin:
        xmin, xmax = xmin - 0.5, xmax + 0.5
    if ymax == ymin:
        ymax += 1

    def x(size):
        return left + (math.log10(size) - xmin) / (xmax - xmin) * (width - left - right)

    def y(ms):
        return top + (ymax - math.log10(ms)) / (ymax - ymin) * (height - top - bottom)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">Median time against registry size (log-log)</text>',
    ]
    for exp in range(ymin, ymax + 1):
        yy = y(10**exp)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{10**exp:g} ms</text>')
    for size in sizes:
        xx = x(size)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{xx:.1f}" y="{height - bottom + 18}" text-anchor="middle">{size:,}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">patients</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, v in points:
            out.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
        ly = top + 20 + i * 20
        out.append(f'<rect x="{width - right + 15}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>')
        text = name.replace("&", "&amp;").replace("<", "&lt;")
        out.append(f'<text x="{width - right + 33}" y="{ly + 1}">{text}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000", help="Comma-separated patient counts.")
    parser.add_argument("--out", default=None, help="Output folder (default bench/results/<UTC stamp>).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-prefix", default="itb_bench", help="Bench databases are <prefix>_10k, ...")
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per target (median and p95).")
    parser.add_argument("--regenerate", action="store_true", help="Generate again even if already there.")
    parser.add_argument("--only", default="", help="Comma-separated substrings of target names.")
    parser.add_argument("--from-json", default=None, help="Only re-render results.md/chart.svg from a results.json.")
    parser.add_argument("--load", type=int, default=0, help="Then a load run of this many seconds per target.")
    parser.add_argument("--results", default=None, help="Write the whole results page here (bench/RESULTS.md).")
    args = parser.parse_args()
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER).rstrip("/")
    if urlparse(server).scheme not in {"postgres", "postgresql"}:
        parser.error("BENCH_DATABASE_URL must be a PostgreSQL server URL (without a database name)")
    out = Path(args.out or ROOT / "bench" / "results" / dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        results = [measure_size(server, size, args) for size in sorted(sizes)]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = markdown(results, args.repeat)
    (out / "results.md").write_text(table)
    (out / "chart.svg").write_text(chart(results))
    print(table)
    print(f"Written: {out / 'results.md'}, {out / 'chart.svg'}, {out / 'results.json'}")
    load_md, load = "", None
    if args.load:
        load_md, load = run_load(server, max(r["patients"] for r in results), args, out)
    if args.results:
        command = "BENCH_DATABASE_URL=... .venv/bin/python bench/run.py " + shlex.join(sys.argv[1:])
        Path(args.results).write_text(results_page(results, load_md, load, command, args.repeat))
        print(f"Written: {args.results}")


if __name__ == "__main__":
    main()
