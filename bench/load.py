"""Load run: the app served as in production, hammered on loopback with wrk.

    python bench/load.py --patients-db itb_bench_100k --duration 30 [--out bench/results/load]

Starts ``gunicorn config.wsgi:application`` with 2 workers on a free loopback port, with the
production settings (``DEBUG=false``; only the HTTPS redirect is off, as behind a TLS proxy), on
a bench database that ``bench/run.py`` generated. It creates an API token for an administrator
and runs ``wrk -t2 -c16 --latency`` for ``--duration`` seconds against each target: the API's
patient list and worklist (token-authenticated) and the dashboard's worklist page (a session),
and the patient list again while another connection updates a patient every second (each write
makes the next read of every cached page a miss). Reports requests per second, p50/p95/p99
latency (from a wrk Lua ``done`` hook) and errors (socket errors and non-2xx/3xx responses). A
target whose URL is not built yet is "n/a".

Each target's time is split into rounds; a round loads the ceiling, the target, then a page that
does no work but sends a body of the target's size (``bench/urls.py``, through the same
middleware): what this server can answer for a page that big, the highest share of the ceiling
the target could reach. Each share is the median of the rounds' own shares, so a machine whose
speed drifts during the run (a shared host's does) moves a share's two sides together.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CEILING = "ceiling: a page that does no work (/health/)"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
ROUNDS = 3  # each page's --duration is split into rounds, each beside its own ceiling
WARM_UP_SECONDS = 2  # before each measured page: every worker has served it (lazy imports, caches)
LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"socket_errors": %d, "non_2xx_3xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _prepare() -> None:
    """In the served database: an admin with a token and a session; which targets exist."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import Resolver404, resolve
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    token, _ = Token.objects.get_or_create(user=admin)
    client = Client()
    client.force_login(admin)
    # An administrator's dashboard needs two factors: the session passes the second, as if the
    # code had been typed (without it every dashboard request was a redirect to the set-up page).
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=admin, name="Bench authenticator", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    today = dt.date.today()
    paths = {
        # The ceiling: the same server answering a page that does no work (no database, no cache,
        # no login); every other row is also given as a share of it.
        CEILING: ("/health/", "none"),
        "api: patient list": ("/api/v1/patients/", "token"),
        # The same, while another client records a change every second (each one makes the next
        # read of every cached page cold): the cache's worth under a busy program's writes.
        "api: patient list, a write every second": ("/api/v1/patients/", "token"),
        "api: worklist, 14 days": (f"/api/v1/worklist/?start={today}&end={today + dt.timedelta(days=14)}", "token"),
        "dashboard: worklist page /": ("/", "session"),
    }
    targets = {}
    for name, (path, auth) in paths.items():
        try:
            resolve(path.split("?")[0])
            targets[name] = {"path": path, "auth": auth}
        except Resolver404:
            targets[name] = None
    print(json.dumps({"token": token.key, "session": client.cookies["sessionid"].value, "targets": targets}))


class _Writer(threading.Thread):
    """Touches one patient a second (as a coordinator saving a record would) until stopped."""

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.url, self.done, self.writes = database_url, threading.Event(), 0
        self.start()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            first = conn.execute("SELECT min(id) FROM registry_patient").fetchone()[0]
            while not self.done.wait(1.0):
                conn.execute("UPDATE registry_patient SET updated_at = now() WHERE id = %s", [first + self.writes])
                self.writes += 1

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.writes


def _combined(rounds: list[tuple[dict, dict, dict]], size: int) -> dict:
    """A page's figures from its rounds of (ceiling, page, same-size page): medians, and each share
    the median of the rounds' own shares; errors and writes summed."""

    def median(values) -> float:
        return statistics.median(list(values))

    pages = [page for _, page, _ in rounds]
    figures = {key: median(p[key] for p in pages) for key in ("rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms")}
    for key in ("requests", "socket_errors", "non_2xx_3xx", "errors", "writes"):
        if key in pages[0]:
            figures[key] = sum(p[key] for p in pages)
    figures.update(
        bytes=size,
        same_size_rps=median(same["rps"] for _, _, same in rounds),
        of_ceiling=median(page["rps"] / ceiling["rps"] for ceiling, page, _ in rounds),
        same_size_of_ceiling=median(same["rps"] / ceiling["rps"] for ceiling, _, same in rounds),
        of_same_size=median(page["rps"] / same["rps"] for _, page, same in rounds),
        rounds=len(rounds),
    )
    return figures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_200(url: str, header: str) -> int:
    """A target is loaded only if it answers 200 (a redirect, to a log-in or a second factor,
    would be counted by wrk as served); the size of its body."""
    name, value = header.split(": ", 1)
    request = urllib.request.Request(url, headers={name: value})  # noqa: S310 - loopback URL we built

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        response = urllib.request.build_opener(_NoRedirect).open(request, timeout=30)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{url} answered {error.code}, not 200: the load run would not measure the page") from error
    if response.status != 200:
        raise SystemExit(f"{url} answered {response.status}, not 200: the load run would not measure the page")
    return len(response.read())


def _wait(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback URL we built
            return
        except urllib.error.HTTPError:
            return  # the server answers (a 302 to the login page or a 401 is fine)
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on {url} within {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients-db", default="itb_bench_100k", help="Bench database name.")
    parser.add_argument("--duration", type=int, default=30, help="Seconds per target.")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers.")
    parser.add_argument("--out", default=None, help="Folder for load.md and load.json.")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        _prepare()
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk (macOS)")
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER).rstrip("/")
    env = {
        **os.environ,
        "DATABASE_URL": f"{server}/{args.patients_db}",
        "DEBUG": "false",
        # The page cache on Redis, as in production (api/caching.py).
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-load-run-" + "x" * 50),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    prepared = subprocess.run(
        [sys.executable, __file__, "--prepare"], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    setup = json.loads(prepared.stdout.strip().splitlines()[-1])
    loads = os.getloadavg()
    port = _free_port()
    gunicorn = subprocess.Popen(
        # config.wsgi's application with the reference page's URL added (bench/wsgi.py).
        [sys.executable, "-m", "gunicorn", "bench.wsgi:application", "-w", str(args.workers)]
        + ["-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    results = {}
    try:
        _wait(f"http://127.0.0.1:{port}/accounts/login/")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)

        def wrk(url: str, header: str, seconds: int | None = None) -> dict:
            seconds = seconds or args.duration
            print(f"wrk {seconds} s against {url}", file=sys.stderr)
            done = subprocess.run(
                ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
                + ["-H", header, "-s", script.name, url],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            figures = json.loads(line.removeprefix("RESULT "))
            figures["rps"] = figures["requests"] / figures["seconds"]
            figures["errors"] = figures["socket_errors"] + figures["non_2xx_3xx"]
            return figures

        ceiling_url = f"http://127.0.0.1:{port}/health/"
        wrk(ceiling_url, "Accept: */*", WARM_UP_SECONDS)
        ceiling_rounds: list[float] = []
        for name, target in setup["targets"].items():
            if target is None:
                results[name] = None
                print(f"{name}: n/a (not built yet)", file=sys.stderr)
                continue
            if target["auth"] == "none":
                continue  # the ceiling: measured in each target's rounds
            header = {
                "token": f"Authorization: Token {setup['token']}",
                "session": f"Cookie: sessionid={setup['session']}",
            }[target["auth"]]
            url = f"http://127.0.0.1:{port}{target['path']}"
            size = _answers_200(url, header)
            reference = f"http://127.0.0.1:{port}/bench/bytes/{size}/"
            wrk(url, header, WARM_UP_SECONDS)  # every worker past its first requests, not counted
            wrk(reference, "Accept: */*", WARM_UP_SECONDS)
            # Rounds of ceiling, page and same-size page in turn: each share is taken within a round,
            # so a machine that speeds up or slows down during the run moves all three together.
            rounds = []
            seconds = max(1, args.duration // ROUNDS)
            for _ in range(ROUNDS):
                ceiling = wrk(ceiling_url, "Accept: */*", seconds)
                writer = _Writer(env["DATABASE_URL"]) if "a write every second" in name else None
                page = wrk(url, header, seconds)
                if writer is not None:
                    page["writes"] = writer.stop()
                rounds.append((ceiling, page, wrk(reference, "Accept: */*", seconds)))
            ceiling_rounds += [c["rps"] for c, _, _ in rounds]
            results[name] = _combined(rounds, size)
        os.unlink(script.name)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    if ceiling_rounds:
        ceiling = {"rps": statistics.median(ceiling_rounds), "bytes": 2, "rounds": len(ceiling_rounds)}
        results = {CEILING: ceiling, **results}
    lines = [
        f"# Load run — {args.patients_db}, gunicorn {args.workers} workers, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s, loopback",
        "",
        f"Load average before the run: {loads[0]:.2f} (1 min), after: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs.",
        "",
        f"Each page is measured in {ROUNDS} rounds, each of the ceiling, the page, and a page that does no work"
        " but sends a body of the page's size through the same server and middleware (`bench/urls.py`): the"
        " most the page could reach. Shares are medians of the rounds' own shares; req/s and latencies are"
        " medians of the rounds.",
        "",
        "| target | body bytes | req/s | of ceiling | no-work page of its size, of ceiling | of that page "
        "| p50 ms | p95 ms | p99 ms | errors (socket + non-2xx/3xx) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def share(value) -> str:
        return "" if value is None else f"{value:.2f}x"

    for name, f in results.items():
        if f is None:
            lines.append(f"| {name} | | n/a (not built yet) | | | | | | | |")
        elif name == CEILING:
            rps = f"{f['rps']:.0f} (median of {f['rounds']} rounds)"
            lines.append(f"| {name} | {f['bytes']} | {rps} | 1.00x | | | | | | |")
        else:
            lines.append(
                f"| {name} | {f['bytes']:,} | {f['rps']:.0f} | {share(f['of_ceiling'])} "
                f"| {share(f['same_size_of_ceiling'])} | {share(f['of_same_size'])} "
                f"| {f['p50_ms']:.1f} | {f['p95_ms']:.1f} | {f['p99_ms']:.1f} "
                f"| {f['errors']} ({f['socket_errors']} + {f['non_2xx_3xx']}) |"
            )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "load.md").write_text(table)
        (out / "load.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
