"""Scale benchmark: registries of several sizes on PostgreSQL, every target timed (issue 7).

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
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
# Budgets at 100,000 patients (issue 7), by target-name prefix: milliseconds and max ratio to floor.
BUDGETS = {
    "sweep": (2000, None),
    "api: patient list": (30, 5),
    "api: patient detail": (30, 5),
    "api: worklist": (30, 5),
    "api: summary": (3000, None),
    "report:": (3000, None),
    "dashboard": (150, None),
    "core: patient list": (30, 5),
    "core: patient detail": (30, 5),
    "core: worklist page": (30, 5),
}
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
    name = f"itb_bench_{label(size)}"
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
        "## Targets",
        "",
        "| target | patients | median ms | p95 ms | queries | floor ms | ratio | budget at 100k |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
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
                lines.append(f"| {name} | {r['patients']:,} | {t['reason']} | | | | | {budget} |")
                continue
            ratio_text = "" if t["ratio"] is None else f"{t['ratio']:.1f}x"
            lines.append(
                f"| {name} | {r['patients']:,} | {_ms(t['median_ms'])} | {_ms(t['p95_ms'])} | {t['queries']} | "
                f"{_ms(t['floor_ms'])} | {ratio_text} | {budget} |"
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
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per target (median and p95).")
    parser.add_argument("--regenerate", action="store_true", help="Generate again even if already there.")
    parser.add_argument("--only", default="", help="Comma-separated substrings of target names.")
    parser.add_argument("--from-json", default=None, help="Only re-render results.md/chart.svg from a results.json.")
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


if __name__ == "__main__":
    main()
