"""Segment count and first page of members over 100,000 contacts. Goal on PostgreSQL: < 100 ms.

Creates a scratch PostgreSQL database `bench_segments` next to DATABASE_URL_TEST (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) and drops it afterwards, builds the schema with
`db.create_all()`, loads the UPR calendar, inserts generated contacts with bulk core inserts, runs
ANALYZE, then times (median of several runs) each segment's count query and its first page (50
members sorted by name), against a baseline measured in the same run: `SELECT count(*) FROM
contacts`. The same is done on a temporary SQLite file for information.

    python bench/segments.py [--contacts 100000] [--runs 9] [--explain] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.calendar.loader import load_calendar  # noqa: E402
from outreach.contacts.models import (  # noqa: E402
    CONTACT_TYPES,
    Contact,
    ContactCountry,
    ContactTopic,
)
from outreach.contacts.queries import ContactFilter, apply_sort  # noqa: E402
from outreach.contacts.validation import hash_email_key  # noqa: E402
from outreach.core.un_members import UN_MEMBER_STATES  # noqa: E402
from outreach.extensions import db  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "bench_segments"
GOAL_MS = 100.0
PAGE_SIZE = 50
CHUNK = 10_000
TOPICS = (
    "women-rights", "children", "civic-space", "migration", "environment", "torture-prevention",
    "lgbti", "indigenous-peoples", "death-penalty", "disability", "education", "health",
    "housing", "justice", "media-freedom", "minorities", "older-persons", "poverty",
    "religion", "business",
)
TYPE_WEIGHTS = (40, 12, 6, 10, 8, 10, 8, 6)  # in the order of CONTACT_TYPES
SEGMENTS = {
    "session 50 States, NGO+NHRI, active": {
        "session_under_review": 50, "types": ["ngo", "nhri"], "statuses": ["active"],
    },
    "4 countries + French, active": {
        "countries": ["FR", "SN", "CI", "BE"], "languages": ["fr"], "statuses": ["active"],
    },
    "topic women-rights, active": {"topics": ["women-rights"], "statuses": ["active"]},
    "all active (widest)": {"statuses": ["active"]},
}
FIRST = ("Ana", "Ben", "Chloé", "Diego", "Emma", "Fatou", "Grace", "Hugo", "Ines", "Jean",
         "Kofi", "Lena", "Mateo", "Nadia", "Oleg", "Priya", "Rosa", "Sofía", "Tenzin", "Yusuf")
LAST = ("Abbott", "Banda", "Castillo", "Diallo", "Evans", "Fontaine", "García", "Horvat",
        "Ibrahim", "Johnson", "Kowalski", "Lambert", "Mensah", "Novak", "Okafor", "Petrov",
        "Rojas", "Sato", "Traoré", "Vargas", "Whitfield", "Yilmaz", "Zhou")


def generate(conn, count: int, seed: int = 42) -> None:
    """Insert `count` contacts with their countries (primary included) and topics, in chunks."""
    rng = random.Random(seed)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    contacts, countries, topics = [], [], []

    def flush() -> None:
        conn.execute(insert(Contact.__table__), contacts)
        conn.execute(insert(ContactCountry.__table__), countries)
        if topics:
            conn.execute(insert(ContactTopic.__table__), topics)
        contacts.clear()
        countries.clear()
        topics.clear()

    for contact_id in range(1, count + 1):
        primary = rng.choice(UN_MEMBER_STATES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"c{contact_id}.{last.lower()}@bench.example.org"
        contacts.append({
            "id": contact_id,
            "email": email,
            "email_key": email,
            "email_hash": hash_email_key(email),
            "first_name": first,
            "last_name": last,
            "organisation_id": None,
            "type": rng.choices(CONTACT_TYPES, weights=TYPE_WEIGHTS)[0],
            "role_title": "",
            "language": rng.choices(("en", "fr", "es"), weights=(60, 20, 20))[0],
            "country_code": primary,
            "status": rng.choices(("active", "inactive", "blocklisted"), weights=(90, 8, 2))[0],
            "notes": "",
            "created_at": now,
            "updated_at": now,
        })
        countries.append({"contact_id": contact_id, "country_code": primary, "is_primary": True})
        for code in set(rng.sample(UN_MEMBER_STATES, rng.choice((0, 0, 1, 2)))) - {primary}:
            countries.append({"contact_id": contact_id, "country_code": code, "is_primary": False})
        for topic in rng.sample(TOPICS, rng.choice((0, 1, 1, 2, 3))):
            topics.append({"contact_id": contact_id, "topic": topic})
        if len(contacts) >= CHUNK:
            flush()
    if contacts:
        flush()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"),
                     {"n": count})


def median_ms(func: Callable[[], object], runs: int) -> float:
    func()  # warm up: plan cache, buffers
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def first_page_stmt(flt: ContactFilter):
    stmt, _ = apply_sort(flt.select(), "name")
    return stmt.limit(PAGE_SIZE)


def explain(session, flt: ContactFilter) -> None:
    for label, stmt in (("count", flt.count_select()), ("first page", first_page_stmt(flt))):
        compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars()
        print(f"--- {label}\n" + "\n".join(plan))


def run(url: str, label: str, count: int, runs: int, show_plans: bool) -> list[dict]:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    rows = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_calendar(db.session)
        db.session.commit()
        start = time.perf_counter()
        with db.engine.begin() as conn:
            generate(conn, count)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        print(f"{label}: generated {count:,} contacts in {time.perf_counter() - start:.1f} s")

        session = db.session
        baseline = median_ms(lambda: session.scalar(text("SELECT count(*) FROM contacts")), runs)
        for name, filters in SEGMENTS.items():
            flt = ContactFilter.from_dict(filters)
            members = session.scalar(flt.count_select())
            count_ms = median_ms(lambda flt=flt: session.scalar(flt.count_select()), runs)
            page_ms = median_ms(
                lambda flt=flt: session.scalars(first_page_stmt(flt)).all(), runs
            )
            rows.append({"database": label, "segment": name, "members": members,
                         "count_ms": count_ms, "page_ms": page_ms, "baseline_ms": baseline})
            if show_plans and label == "postgresql":
                print(f"=== {name}")
                explain(session, flt)
        session.remove()
        db.engine.dispose()
    return rows


def print_table(rows: list[dict]) -> None:
    header = (f"{'database':<11} {'segment':<38} {'members':>8} {'count ms':>9} {'page ms':>8} "
              f"{'base ms':>8} {'count/base':>10} {'page/base':>9}  goal")
    print(header)
    print("-" * len(header))
    for r in rows:
        ok = "ok" if max(r["count_ms"], r["page_ms"]) < GOAL_MS else "SLOW"
        goal = ok if r["database"] == "postgresql" else "(info)"
        print(f"{r['database']:<11} {r['segment']:<38} {r['members']:>8,} {r['count_ms']:>9.1f} "
              f"{r['page_ms']:>8.1f} {r['baseline_ms']:>8.2f} "
              f"{r['count_ms'] / r['baseline_ms']:>9.1f}x {r['page_ms'] / r['baseline_ms']:>8.1f}x"
              f"  {goal}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--explain", action="store_true", help="print PostgreSQL plans")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()

    rows: list[dict] = []
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    except Exception as exc:  # report and carry on with SQLite
        print(f"postgresql: not reachable at {base.render_as_string()} ({exc.__class__.__name__})")
    else:
        url = base.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
        try:
            rows += run(url, "postgresql", args.contacts, args.runs, args.explain)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
    admin.dispose()

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench_segments.db'}"
            rows += run(url, "sqlite", args.contacts, args.runs, False)

    print()
    print_table(rows)
    slow = [r for r in rows if r["database"] == "postgresql"
            and max(r["count_ms"], r["page_ms"]) >= GOAL_MS]
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
