"""Benchmark: import 100,000 generated contact rows on SQLite and (when it answers) PostgreSQL.

    .venv/bin/python bench/import_contacts.py [--rows N] [--no-postgres]

The rows are fictional (example.org addresses) with random countries, types, organisations and
topics; about 2% are bad (invalid email, unknown country, type or language). Each database gets:

- baseline: a plain `csv.reader` pass and an executemany INSERT of the same rows, in chunks of
  2,000, into a bare table without validation or indexes: the floor cost of moving the data;
- import: `import_contacts` into an empty registry (every good row creates a contact);
- re-import: the same file again (every row matched, nothing changed);
- re-import with changes: the same rows with a new role title and topic (every row updated).

It prints rows/s for each, the ratio import/baseline measured in the same run, and whether the
goal (>= 5,000 rows/s) is met. PostgreSQL: `DATABASE_URL_TEST` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is used to create and drop a database named
`bench_import`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

GOAL = 5000  # rows per second
CHUNK = 2000
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "bench_import"

FIRST = ["Amina", "Pedro", "Lina", "Tomás", "Chloé", "Kwame", "Mei", "Olga", "Rahul", "Zoë",
         "Yusuf", "Ingrid", "Mateo", "Aïcha", "Sven", "Nadia", "Kofi", "Lucía", "Hiro", "Fatou"]
LAST = ["Diallo", "Ruiz", "Novak", "Haddad", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva",
        "Kowalski", "Mensah", "Østergaard", "Nguyen", "Khan", "Petrov", "Da Costa", "Müller"]
ORG_WORDS = ["Rights", "Justice", "Voices", "Equality", "Futures", "Dignity", "Solidarity",
             "Action", "Watch", "Forum"]
ORG_KINDS = ["Network", "Coalition", "Centre", "Institute", "Initiative", "Alliance"]
TOPICS = ["women", "children", "torture", "land rights", "climate", "migrants", "disability",
          "lgbti", "freedom of expression", "indigenous peoples", "education", "health",
          "death penalty", "business and human rights", "minorities", "housing"]
TYPES = ["ngo", "ngo", "ngo", "nhri", "permanent_mission", "un_entity", "regional_org",
         "academic", "media", "other", ""]
COUNTRY_NAMES = ["France", "Allemagne", "México", "Kenya", "Côte d'Ivoire", "Türkiye", "USA",
                 "Royaume-Uni", "Brasil", "Japan"]
HEADER = ["email", "first_name", "last_name", "organisation", "type", "role_title", "language",
          "country", "countries", "topics", "status", "notes"]


@dataclass
class Timing:
    label: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def generate(path: Path, count: int, seed: int = 3, changed: bool = False) -> int:
    """Write `count` rows to `path`; return how many are deliberately bad.

    `changed` gives the same rows with a new role title and one more topic in each.
    """
    import pycountry

    rng = random.Random(seed)
    codes = [country.alpha_2 for country in pycountry.countries]
    orgs = [f"{rng.choice(ORG_WORDS)} {rng.choice(ORG_KINDS)} {n}" for n in range(3000)]
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(count):
            email = f"contact{i:06d}@example.org"
            country = rng.choice(codes) if rng.random() < 0.9 else rng.choice(COUNTRY_NAMES)
            row = [
                email,
                rng.choice(FIRST),
                rng.choice(LAST),
                rng.choice(orgs) if rng.random() < 0.8 else "",
                rng.choice(TYPES),
                rng.choice(["", "", "Director", "Advocacy officer", "Researcher"]),
                rng.choice(["en", "fr", "es"]),
                country,
                "; ".join(rng.sample(codes, rng.randint(0, 3))),
                "; ".join(rng.sample(TOPICS, rng.randint(0, 3))),
                rng.choice(["", "", "", "active", "inactive"]),
                "Met at the pre-session, follow up in June" if rng.random() < 0.1 else "",
            ]
            if changed:
                row[5] = "Programme lead"
                row[9] = "; ".join(filter(None, [row[9], "follow-up"]))
            if rng.random() < 0.02:
                bad += 1
                column, value = rng.choice(
                    [(0, email.replace("@", ".")), (7, "Atlantis"), (4, "spaceship"), (6, "xx")]
                )
                row[column] = value
            writer.writerow(row)
    return bad


def baseline(engine, path: Path) -> Timing:
    """csv.reader + executemany INSERT of every row into a bare table (no validation, no index)."""
    columns = ", ".join(f"{name} TEXT" for name in HEADER)
    placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO bench_baseline VALUES ({', '.join([placeholder] * len(HEADER))})"
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_baseline")
        conn.exec_driver_sql(f"CREATE TABLE bench_baseline ({columns})")
    start = time.perf_counter()
    rows = 0
    with engine.begin() as conn, path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        chunk = []
        for row in reader:
            chunk.append(tuple(row))
            if len(chunk) == CHUNK:
                conn.exec_driver_sql(sql, chunk)
                rows += len(chunk)
                chunk = []
        if chunk:
            conn.exec_driver_sql(sql, chunk)
            rows += len(chunk)
    elapsed = time.perf_counter() - start
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_baseline")
    return Timing("baseline", rows, elapsed)


def validate_only(path: Path, total: int) -> Timing:
    from outreach.contacts.csv_io import ContactCsvReader
    from outreach.contacts.importer import parse_row

    start = time.perf_counter()
    with ContactCsvReader(path) as reader:
        for row in reader:
            parse_row(row)
    return Timing("validation only", total, time.perf_counter() - start)


def run_import(label: str, path: Path, total: int):
    from outreach.contacts.importer import import_contacts
    from outreach.extensions import db

    start = time.perf_counter()
    report = import_contacts(db.session, path)
    db.session.commit()
    elapsed = time.perf_counter() - start
    return Timing(label, total, elapsed), report


def bench_database(name: str, url: str, files: dict[str, Path], total: int) -> list[str]:
    from outreach import create_app
    from outreach.extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    lines = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        base = baseline(db.engine, files["import (new contacts)"])
        lines.append(f"{name:<10} {base.label:<28} {base.rate:>9,.0f} rows/s"
                     f"  {base.seconds:6.1f} s")
        for label, path in files.items():
            timing, report = run_import(label, path, total)
            ratio = timing.rate / base.rate
            goal = "met" if timing.rate >= GOAL else "NOT met"
            lines.append(
                f"{name:<10} {label:<28} {timing.rate:>9,.0f} rows/s  {timing.seconds:6.1f} s"
                f"  ratio import/baseline {ratio:.2f}  goal >= {GOAL:,} rows/s: {goal}"
                f"  [{report.summary_line()}]"
            )
        db.session.remove()
        db.engine.dispose()
    return lines


def postgres_url() -> str | None:
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
        admin.dispose()
    except Exception as exc:  # any failure means "not reachable"
        print(f"PostgreSQL not reachable ({type(exc).__name__}): skipped")
        return None
    return base.set(database=BENCH_DB).render_as_string(hide_password=False)


def drop_postgres() -> None:
    base = make_url(os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        path, changed = Path(tmp) / "contacts.csv", Path(tmp) / "contacts-changed.csv"
        bad = generate(path, args.rows)
        generate(changed, args.rows, changed=True)
        files = {
            "import (new contacts)": path,
            "re-import (all unchanged)": path,
            "re-import (all changed)": changed,
        }
        size = path.stat().st_size / 1024 / 1024
        print(f"Contact import: {args.rows:,} generated rows ({bad:,} bad), {size:.1f} MiB CSV, "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")
        check = validate_only(path, args.rows)
        print(f"{'python':<10} {check.label:<28} {check.rate:>9,.0f} rows/s"
              f"  {check.seconds:6.1f} s")
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        print("\n".join(bench_database("sqlite", sqlite_url, files, args.rows)))
        url = None if args.no_postgres else postgres_url()
        if url:
            try:
                print("\n".join(bench_database("postgresql", url, files, args.rows)))
            finally:
                drop_postgres()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the benchmark process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
