"""Public pages under load: wrk against gunicorn (2 workers) on PostgreSQL.

Serves the real app (`gunicorn -c gunicorn.conf.py wsgi:app`, FLASK_CONFIG=production, no access
log, no max_requests recycling) on a scratch database `bench_web_<pid>` next to
DATABASE_URL_TEST (the UPR calendar and 20 public sent campaigns in English and French), then
runs wrk on the English subscribe page and the archive, first with the page cache off
(CACHE_TYPE=NullCache: the baseline, measured in the same run), then on (SimpleCache), each after
a 3-second unmeasured warm-up (every gunicorn worker has the page in its cache). Reports requests
per second, the 99th percentile latency and errors (non-2xx answers, socket errors and wrk's
2-second timeouts).

Goal: >= 500 requests/s on each cached page.

    python bench/web.py [--duration 15] [--connections 32] [--threads 2] [--workers 2]

Needs wrk (`apt-get install -y wrk`, or `make bench-web`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.calendar.loader import load_calendar  # noqa: E402
from outreach.campaigns.models import Campaign, CampaignVariant  # noqa: E402
from outreach.extensions import db  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = f"bench_web_{os.getpid()}"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
GOAL = 500.0
PAGES = {"subscribe": "/en/subscribe", "archive": "/archive?lang=en"}
BODY = """Dear {{ contact.first_name or 'colleague' }},

The **%d th session** of the UPR Working Group opens soon. Here is what stakeholders can do
before, during and after the review, and the deadlines that matter.

- Stakeholder submissions: six months before.
- Pre-sessions: one month before.
- Adoption at the Human Rights Council: four months after.
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_database() -> tuple[str, object]:
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    return base.set(database=DATABASE).render_as_string(hide_password=False), admin


def populate(url: str, campaigns: int = 20) -> None:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        load_calendar(db.session)
        finished = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
        for number in range(campaigns):
            db.session.add(
                Campaign(
                    name=f"Newsletter {number}",
                    status="sent",
                    public=True,
                    sender_name="UPR Info",
                    sender_email="news@example.org",
                    default_language="en",
                    started_at=finished - timedelta(days=7 * number),
                    finished_at=finished - timedelta(days=7 * number),
                    variants=[
                        CampaignVariant(
                            language=language,
                            subject=f"UPR news {number} ({language})",
                            body_markdown=BODY % (40 + number),
                        )
                        for language in ("en", "fr")
                    ],
                )
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def start_gunicorn(url: str, port: int, workers: int, cache_type: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "CACHE_"))}
    env.update(
        FLASK_CONFIG="production",
        FLASK_SKIP_DOTENV="1",
        SECRET_KEY="bench-web-secret-key-not-for-production",
        DATABASE_URL=url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(workers),
        GUNICORN_ACCESS_LOG="",
        GUNICORN_MAX_REQUESTS="0",  # no worker recycling (and cold cache) in the middle of a run
        CACHE_TYPE=cache_type,
        LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [str(GUNICORN), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{process.stderr.read().decode()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run_wrk(url: str, args) -> tuple[float, float, int]:
    """(requests/s, p99 ms, errors: non-2xx/3xx answers and socket errors) of one wrk run."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200, answer.status
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", url]
    # Warm-up: every gunicorn worker renders (and caches) the page once; not measured.
    subprocess.run([*command, "-d3s"], capture_output=True, check=True)
    output = subprocess.run(
        [*command, f"-d{args.duration}s"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    failed = int(errors.group(1)) if errors else 0
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed += sum(int(n) for n in sockets.groups()) if sockets else 0
    return rps, p99, failed


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (or make bench-web)")
    url, admin = scratch_database()
    print(f"bench/web.py: {os.cpu_count()} CPUs, load average {load()}, database {DATABASE}")
    results: dict[tuple[str, str], tuple[float, float, int]] = {}
    try:
        populate(url)
        for cache_type, label in (("NullCache", "no cache"), ("SimpleCache", "cached")):
            port = free_port()
            server = start_gunicorn(url, port, args.workers, cache_type)
            try:
                for page, path in PAGES.items():
                    results[(page, label)] = run_wrk(f"http://127.0.0.1:{port}{path}", args)
            finally:
                stop(server)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()
    print(
        f"gunicorn {args.workers} workers x 2 threads, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s; load average after: {load()}"
    )
    print(f"{'page':<10} {'cache':<9} {'req/s':>8} {'p99 ms':>8} {'errors':>6} {'vs no cache':>11}")
    failed = False
    for page in PAGES:
        base = results[(page, "no cache")][0]
        for label in ("no cache", "cached"):
            rps, p99, errors = results[(page, label)]
            ratio = f"{rps / base:.1f}x" if label == "cached" else ""
            print(f"{page:<10} {label:<9} {rps:>8.0f} {p99:>8.1f} {errors:>6} {ratio:>11}")
        rps, _, errors = results[(page, "cached")]
        if rps < GOAL or errors:
            failed = True
    verdict = "met" if not failed else "NOT met"
    print(f"goal >= {GOAL:.0f} req/s on every cached page, no errors: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
