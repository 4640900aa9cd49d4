"""The contact import engine behind `flask contacts import` and the upload page.

Rows are validated in Python as they stream in, then written in chunks with set-based SQL: one
SELECT of the chunk's existing contacts (and their links), a bulk INSERT of new contacts, a bulk
UPDATE of the changed ones and delete + insert of the link rows that changed (executemany on
SQLite; on PostgreSQL one statement over array parameters, see `bulk_insert`). Rows are upserted
by the casefolded normalised email; within a file the last value given wins, and an empty cell
never blanks a stored value. Organisations named in the file are matched by
`validation.organisation_key` and created when missing.

An address on the suppression list (matched by the hash of its key, one query per chunk) is
neither created nor updated: its rows are reported in `ImportReport.suppressed`. Each contact an
import creates gets one "import" event in the consent log, written with one INSERT ... SELECT per
chunk.

`import_contacts` flushes but never commits; the caller commits when `report.applied` is true and
rolls back otherwise (dry run, or a strict import that found bad rows).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any

from flask import current_app
from sqlalchemy import (
    ARRAY,
    JSON,
    Integer,
    String,
    any_,
    bindparam,
    delete,
    insert,
    literal,
    select,
    text,
    update,
)

from outreach.audit.services import record
from outreach.auth.permissions import require_role
from outreach.contacts.csv_io import ContactCsvReader, CsvRow, mapping_rows
from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.contacts.validation import (
    FieldError,
    hash_email_key,
    normalise_email,
    organisation_key,
    parse_bool,
    parse_countries,
    parse_country,
    parse_ganhri,
    parse_language,
    parse_status,
    parse_topics,
    parse_type,
)
from outreach.core.database import UTCDateTime, utcnow
from outreach.subscriptions.models import ConsentRecord, Suppression

CHUNK_SIZE = 2000

# Free-text contact columns and their maximum length (None: unlimited).
TEXT_FIELDS = {
    "first_name": 150,
    "last_name": 150,
    "role_title": 200,
    "notes": None,
}
ORGANISATION_NAME_MAX = 300
# Contact columns an import may set (besides email), in a fixed order for comparisons.
CONTACT_FIELDS = (
    "first_name", "last_name", "role_title", "notes", "type", "language", "status", "country_code",
)


@dataclass(slots=True)
class RejectedRow:
    line: int
    email: str
    reason: str


@dataclass(slots=True)
class SuppressedRow:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    suppressed: list[SuppressedRow] = field(default_factory=list)
    organisations_created: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    strict: bool = False
    source: str = "import"

    @property
    def failed_strict(self) -> bool:
        return self.strict and bool(self.rejected)

    @property
    def applied(self) -> bool:
        """True when the caller should commit: not a dry run and not a failed strict import."""
        return not self.dry_run and not self.failed_strict

    def summary_line(self) -> str:
        return (
            f"created={self.created} updated={self.updated} rejected={len(self.rejected)}"
            f" unchanged={self.unchanged} suppressed={len(self.suppressed)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": [
                {"line": r.line, "email": r.email, "reason": r.reason} for r in self.rejected
            ],
            "suppressed": [
                {"line": r.line, "email": r.email, "reason": r.reason} for r in self.suppressed
            ],
            "unchanged": self.unchanged,
        }


    def as_record(self) -> dict[str, Any]:
        """Everything the report page shows, as JSON (kept by background import jobs)."""
        return {
            **self.to_dict(),
            "organisations_created": self.organisations_created,
            "ignored_columns": self.ignored_columns,
            "dry_run": self.dry_run,
            "strict": self.strict,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ImportReport:
        return cls(
            created=record.get("created", 0),
            updated=record.get("updated", 0),
            unchanged=record.get("unchanged", 0),
            rejected=[RejectedRow(**row) for row in record.get("rejected", [])],
            suppressed=[SuppressedRow(**row) for row in record.get("suppressed", [])],
            organisations_created=record.get("organisations_created", 0),
            ignored_columns=list(record.get("ignored_columns", [])),
            dry_run=record.get("dry_run", False),
            strict=record.get("strict", False),
        )

    def add(self, part: ImportReport) -> None:
        """Fold in the report of a later part of the same file."""
        self.created += part.created
        self.updated += part.updated
        self.unchanged += part.unchanged
        self.rejected.extend(part.rejected)
        self.suppressed.extend(part.suppressed)
        self.organisations_created += part.organisations_created


@dataclass(slots=True)
class RowBatch:
    """Rows already read from a file by `ContactCsvReader`: one part of a file, imported alone."""

    rows: list[CsvRow]
    ignored_columns: list[str] = field(default_factory=list)


# ---- validating one row (pure Python, no database) ----------------------------------------

@dataclass(slots=True)
class ParsedRow:
    """A valid row: contact fields given (non-empty cells only) and its organisation, if any."""

    line: int
    email: str
    key: str
    values: dict[str, Any]
    countries: tuple[str, ...] | None = None
    topics: tuple[str, ...] | None = None
    organisation: str | None = None
    org_key: str | None = None
    org_values: dict[str, Any] = field(default_factory=dict)

    def merge(self, later: ParsedRow) -> None:
        """Fold a later row for the same email into this one (its non-empty values win)."""
        self.line = later.line
        self.email = later.email
        self.values.update(later.values)
        if later.countries is not None:
            self.countries = later.countries
        if later.topics is not None:
            self.topics = later.topics
        if later.org_key is not None:
            if later.org_key != self.org_key:
                self.org_values = {}
            self.organisation, self.org_key = later.organisation, later.org_key
            self.org_values.update(later.org_values)


@lru_cache(maxsize=2048)
def _country(value: str) -> str | None:
    return parse_country(value)


@lru_cache(maxsize=4096)
def _countries(value: str) -> tuple[str, ...]:
    return tuple(parse_countries(value))


@lru_cache(maxsize=4096)
def _topics(value: str) -> tuple[str, ...]:
    return tuple(parse_topics(value))


CHOICE_PARSERS = {
    "type": lru_cache(maxsize=256)(parse_type),
    "language": lru_cache(maxsize=256)(parse_language),
    "status": lru_cache(maxsize=256)(parse_status),
    "country": _country,
}
ORG_PARSERS = {
    "ecosoc_status": lru_cache(maxsize=64)(parse_bool),
    "ganhri_accreditation": lru_cache(maxsize=64)(parse_ganhri),
}


def parse_row(row: CsvRow) -> ParsedRow | RejectedRow:
    """Validate one row; every problem in it is listed in the rejection reason."""
    cells = row.values
    errors: list[str] = []
    email = key = ""
    try:
        email, key = normalise_email(cells.get("email", ""))
    except FieldError as exc:
        errors.append(str(exc))
    values: dict[str, Any] = {}
    for column, limit in TEXT_FIELDS.items():
        if column in cells:
            if limit and len(cells[column]) > limit:
                errors.append(f"{column} is longer than {limit} characters")
            values[column] = cells[column]
    for column, parser in CHOICE_PARSERS.items():
        if column in cells:
            try:
                values["country_code" if column == "country" else column] = parser(cells[column])
            except FieldError as exc:
                errors.append(str(exc))
    parsed = ParsedRow(row.line, email, key, values)
    if "countries" in cells:
        try:
            parsed.countries = _countries(cells["countries"])
        except FieldError as exc:
            errors.append(f"countries: {exc}")
    if "topics" in cells:
        parsed.topics = _topics(cells["topics"])
    _parse_organisation(cells, parsed, errors)
    if errors:
        return RejectedRow(row.line, cells.get("email", ""), "; ".join(errors))
    return parsed


def _parse_organisation(cells: dict[str, str], parsed: ParsedRow, errors: list[str]) -> None:
    name = " ".join(cells.get("organisation", "").split())
    if len(name) > ORGANISATION_NAME_MAX:
        errors.append(f"organisation is longer than {ORGANISATION_NAME_MAX} characters")
    if name:
        parsed.organisation, parsed.org_key = name, organisation_key(name)
    for column, parser in ORG_PARSERS.items():
        if column not in cells:
            continue
        if not name:
            errors.append(f"{column} is given without an organisation")
            continue
        try:
            parsed.org_values[column] = parser(cells[column])
        except FieldError as exc:
            errors.append(f"{column}: {exc}")


# ---- bulk SQL: executemany on SQLite, one statement over arrays on PostgreSQL ---------------

def _is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _one_of(session, column, values: list):
    """`column IN (values)`; on PostgreSQL `= ANY(array)`, one parameter instead of thousands."""
    if _is_postgresql(session):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _unnest(session, table, columns: list[str], rows: list[dict[str, Any]]):
    """PostgreSQL: `unnest(CAST(:p0 AS type[]), ...)` over the rows' values, and its params."""
    dialect = session.get_bind().dialect
    arrays, params = [], {}
    for index, name in enumerate(columns):
        sql_type = table.c[name].type.compile(dialect=dialect)
        arrays.append(f"CAST(:p{index} AS {sql_type}[])")
        params[f"p{index}"] = [row[name] for row in rows]
    return f"unnest({', '.join(arrays)})", params


def bulk_insert(session, table, rows: list[dict[str, Any]], returning: tuple[str, ...] = ()):
    """Insert rows that all have the same keys; return the `returning` columns of each row."""
    if not rows:
        return []
    if not _is_postgresql(session):
        stmt = insert(table)
        if returning:
            stmt = stmt.returning(*(table.c[name] for name in returning))
        result = session.execute(stmt, rows)
        return result.all() if returning else []
    columns = list(rows[0])
    source, params = _unnest(session, table, columns, rows)
    quote = session.get_bind().dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT * FROM {source}"
    )
    if returning:
        sql += f" RETURNING {', '.join(quote(c) for c in returning)}"
    result = session.execute(text(sql), params)
    return result.all() if returning else []


def bulk_update(session, entity, rows: list[dict[str, Any]]) -> None:
    """Update rows by primary key `id`; every dict has the same keys."""
    if not rows:
        return
    if not _is_postgresql(session):
        session.execute(update(entity), rows)
        return
    table = entity.__table__
    columns = list(rows[0])
    source, params = _unnest(session, table, columns, rows)
    quote = session.get_bind().dialect.identifier_preparer.quote
    assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns if c != "id")
    sql = (
        f"UPDATE {quote(table.name)} AS t SET {assignments} FROM {source} "
        f"AS v({', '.join(quote(c) for c in columns)}) WHERE t.id = v.id"
    )
    session.execute(text(sql), params)


# ---- writing a chunk (set-based SQL) -------------------------------------------------------

@dataclass(slots=True)
class _Org:
    id: int
    type: str
    ecosoc_status: bool
    ganhri_accreditation: str | None


@dataclass
class _ImportState:
    """What the engine remembers across chunks."""

    report: ImportReport
    staff_user_id: int | None = None
    organisations: dict[str, _Org] = field(default_factory=dict)
    # email key -> "created" | "updated" | "unchanged": a key seen twice is counted once.
    outcomes: dict[str, str] = field(default_factory=dict)

    def record(self, key: str, outcome: str) -> None:
        previous = self.outcomes.get(key)
        if previous is None or (previous == "unchanged" and outcome == "updated"):
            self.outcomes[key] = outcome


def _resolve_organisations(session, rows: list[ParsedRow], state: _ImportState) -> set[str]:
    """Create missing organisations and apply the organisation values the rows give.

    Returns the keys of existing organisations whose values changed.
    """
    names: dict[str, str] = {}
    firsts: dict[str, ParsedRow] = {}
    given: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        if row.org_key is None:
            continue
        names.setdefault(row.org_key, row.organisation)
        firsts.setdefault(row.org_key, row)
        given[row.org_key].update(row.org_values)
    if not names:
        return set()
    known = state.organisations
    missing = [key for key in names if key not in known]
    if missing:
        found = session.execute(
            select(
                Organisation.name_key, Organisation.id, Organisation.type,
                Organisation.ecosoc_status, Organisation.ganhri_accreditation,
            ).where(_one_of(session, Organisation.name_key, missing))
        )
        for key, *values in found:
            known[key] = _Org(*values)
    new = [key for key in names if key not in known]
    if new:
        now = utcnow()
        params = [
            {
                "name": names[key],
                "name_key": key,
                "type": firsts[key].values.get("type", "other"),
                "country_code": firsts[key].values.get("country_code"),
                "ecosoc_status": given[key].get("ecosoc_status", False),
                "ganhri_accreditation": given[key].get("ganhri_accreditation"),
                "website": "",
                "notes": "",
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for key in new
        ]
        by_key = {values["name_key"]: values for values in params}
        inserted = bulk_insert(session, Organisation.__table__, params, ("name_key", "id"))
        for key, org_id in inserted:
            values = by_key[key]
            known[key] = _Org(org_id, values["type"], values["ecosoc_status"],
                              values["ganhri_accreditation"])
        state.report.organisations_created += len(new)
    return _update_organisations(session, given, known, set(new))


def _update_organisations(session, given, known: dict[str, _Org], created: set[str]) -> set[str]:
    changes = []
    changed_keys = set()
    for key, values in given.items():
        org = known[key]
        if key in created or not values:
            continue
        if all(getattr(org, name) == value for name, value in values.items()):
            continue
        for name, value in values.items():
            setattr(org, name, value)
        changed_keys.add(key)
        changes.append({"id": org.id, "ecosoc_status": org.ecosoc_status,
                        "ganhri_accreditation": org.ganhri_accreditation,
                        "updated_at": utcnow()})
    bulk_update(session, Organisation, changes)
    return changed_keys


@dataclass(slots=True)
class _Existing:
    row: Any
    countries: set[tuple[str, bool]] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(code for code, primary in self.countries if not primary)


def _load_existing(session, keys: list[str]) -> dict[str, _Existing]:
    rows = session.execute(
        select(Contact.id, Contact.email_key, Contact.email, Contact.organisation_id,
               *(getattr(Contact, name) for name in CONTACT_FIELDS))
        .where(_one_of(session, Contact.email_key, keys))
    )
    existing = {row.email_key: _Existing(row) for row in rows}
    by_id = {item.row.id: item for item in existing.values()}
    if by_id:
        ids = list(by_id)
        for contact_id, code, primary in session.execute(
            select(ContactCountry.contact_id, ContactCountry.country_code,
                   ContactCountry.is_primary)
            .where(_one_of(session, ContactCountry.contact_id, ids))
        ):
            by_id[contact_id].countries.add((code, primary))
        for contact_id, topic in session.execute(
            select(ContactTopic.contact_id, ContactTopic.topic)
            .where(_one_of(session, ContactTopic.contact_id, ids))
        ):
            by_id[contact_id].topics.add(topic)
    return existing


def country_links(primary: str | None, others: Iterable[str]) -> set[tuple[str, bool]]:
    """A contact's countries as (code, is_primary): the primary one and its countries of work."""
    links = {(code, False) for code in others if code != primary}
    if primary:
        links.add((primary, True))
    return links


@dataclass
class _ChunkWrites:
    new_contacts: list[dict[str, Any]] = field(default_factory=list)
    new_links: dict[str, tuple[set, tuple]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    country_rewrites: dict[int, set[tuple[str, bool]]] = field(default_factory=dict)
    topic_rewrites: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _plan_new(row: ParsedRow, digest: str, org: _Org | None, now, writes: _ChunkWrites) -> None:
    values = row.values
    primary = values.get("country_code")
    writes.new_contacts.append({
        "email": row.email,
        "email_key": row.key,
        "email_hash": digest,
        "first_name": values.get("first_name", ""),
        "last_name": values.get("last_name", ""),
        "role_title": values.get("role_title", ""),
        "notes": values.get("notes", ""),
        "type": values.get("type") or (org.type if org else "other"),
        "language": values.get("language", "en"),
        "status": values.get("status", "active"),
        "country_code": primary,
        "organisation_id": org.id if org else None,
        "created_at": now,
        "updated_at": now,
    })
    writes.new_links[row.key] = (country_links(primary, row.countries or ()), row.topics or ())


def _plan_update(row: ParsedRow, current: _Existing, org: _Org | None, now,
                 writes: _ChunkWrites) -> bool:
    """Plan the writes for an existing contact; return whether anything changes."""
    old = current.row
    new = {name: row.values.get(name, getattr(old, name)) for name in CONTACT_FIELDS}
    new["email"] = row.email
    new["organisation_id"] = org.id if org else old.organisation_id
    changed = any(new[name] != getattr(old, name) for name in new)
    if changed:
        writes.updates.append({"id": old.id, **new, "updated_at": now})
    others = row.countries if row.countries is not None else current.others
    links = country_links(new["country_code"], others)
    if links != current.countries:
        writes.country_rewrites[old.id] = links
        changed = True
    if row.topics is not None and set(row.topics) != current.topics:
        writes.topic_rewrites[old.id] = row.topics
        changed = True
    return changed


def _drop_suppressed(
    session, rows: list[ParsedRow], state: _ImportState
) -> tuple[list[ParsedRow], dict[str, str]]:
    """Report the rows whose address is suppressed and leave them out (one query per chunk).

    Returns the other rows and the hash of every email key in the chunk.
    """
    hashes = {key: hash_email_key(key) for key in dict.fromkeys(row.key for row in rows)}
    found = dict(
        session.execute(
            select(Suppression.email_hash, Suppression.reason)
            .where(_one_of(session, Suppression.email_hash, list(hashes.values())))
        ).all()
    )
    if not found:
        return rows, hashes
    kept = []
    for row in rows:
        reason = found.get(hashes[row.key])
        if reason is None:
            kept.append(row)
        else:
            state.report.suppressed.append(SuppressedRow(row.line, row.email, reason))
    return kept, hashes


def _write_chunk(session, rows: list[ParsedRow], state: _ImportState) -> None:
    """Upsert one chunk of valid rows, except those whose address is suppressed."""
    rows, hashes = _drop_suppressed(session, rows, state)
    if not rows:
        return
    merged: dict[str, ParsedRow] = {}
    for row in rows:
        if row.key in merged:
            merged[row.key].merge(row)
        else:
            merged[row.key] = row
    changed_orgs = _resolve_organisations(session, rows, state)
    existing = _load_existing(session, list(merged))
    now = utcnow()
    writes = _ChunkWrites()
    for key, row in merged.items():
        org = state.organisations[row.org_key] if row.org_key else None
        current = existing.get(key)
        if current is None:
            _plan_new(row, hashes[key], org, now, writes)
            state.record(key, "created")
            continue
        changed = _plan_update(row, current, org, now, writes)
        if row.org_values and row.org_key in changed_orgs:
            changed = True
        state.record(key, "updated" if changed else "unchanged")
    _execute(session, writes, state, now)


def _record_consent(session, contact_ids: list[int], state: _ImportState, now) -> None:
    """One "import" event per new contact, in one INSERT ... SELECT from the contacts."""
    values = select(
        Contact.id,
        Contact.email_hash,
        literal("import", String),
        literal(state.report.source, String),
        literal("", String),
        literal("", String),
        literal(current_app.config["PRIVACY_NOTICE_VERSION"], String),
        literal({}, JSON),
        literal(state.staff_user_id, Integer),
        literal(now, UTCDateTime),
    ).where(_one_of(session, Contact.id, contact_ids))
    columns = ["contact_id", "email_hash", "action", "source", "ip_address", "user_agent",
               "privacy_notice_version", "details", "staff_user_id", "created_at"]
    session.execute(insert(ConsentRecord.__table__).from_select(columns, values))


def _execute(session, writes: _ChunkWrites, state: _ImportState, now) -> None:
    country_rows: list[dict[str, Any]] = []
    topic_rows: list[dict[str, Any]] = []
    inserted = bulk_insert(session, Contact.__table__, writes.new_contacts, ("id", "email_key"))
    if inserted:
        _record_consent(session, [contact_id for contact_id, _ in inserted], state, now)
    for contact_id, key in inserted:
        links, topics = writes.new_links[key]
        country_rows.extend(
            {"contact_id": contact_id, "country_code": code, "is_primary": primary}
            for code, primary in links
        )
        topic_rows.extend({"contact_id": contact_id, "topic": topic} for topic in topics)
    bulk_update(session, Contact, writes.updates)
    if writes.country_rewrites:
        session.execute(
            delete(ContactCountry)
            .where(_one_of(session, ContactCountry.contact_id, list(writes.country_rewrites)))
        )
        for contact_id, links in writes.country_rewrites.items():
            country_rows.extend(
                {"contact_id": contact_id, "country_code": code, "is_primary": primary}
                for code, primary in links
            )
    if writes.topic_rewrites:
        session.execute(
            delete(ContactTopic)
            .where(_one_of(session, ContactTopic.contact_id, list(writes.topic_rewrites)))
        )
        for contact_id, topics in writes.topic_rewrites.items():
            topic_rows.extend({"contact_id": contact_id, "topic": topic} for topic in topics)
    bulk_insert(session, ContactCountry.__table__, country_rows)
    bulk_insert(session, ContactTopic.__table__, topic_rows)


# ---- the service ---------------------------------------------------------------------------

ImportSource = str | os.PathLike | IO[Any] | Iterable[Mapping[str, Any]]


def _open_rows(source: ImportSource | RowBatch, report: ImportReport):
    if isinstance(source, RowBatch):
        report.ignored_columns = list(source.ignored_columns)
        return iter(source.rows)
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "read"):
        reader = ContactCsvReader(source)
        report.ignored_columns = list(reader.ignored)
        return reader
    return mapping_rows(source)


def _chunks(rows: Iterator[CsvRow], report: ImportReport) -> Iterator[list[ParsedRow]]:
    chunk: list[ParsedRow] = []
    for row in rows:
        parsed = parse_row(row)
        if isinstance(parsed, RejectedRow):
            report.rejected.append(parsed)
            continue
        chunk.append(parsed)
        if len(chunk) >= CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_contacts(
    session,
    rows_or_file: ImportSource | RowBatch,
    *,
    dry_run: bool = False,
    strict: bool = False,
    source: str = "import",
    staff_user_id: int | None = None,
) -> ImportReport:
    """Upsert contacts from a CSV (path or file object) or from mappings; flush, never commit.

    A dry run does the same work, so its counts are those of a real run, and leaves
    `report.applied` false: the caller rolls back. So does a strict import that found bad rows;
    it stops writing at the first one, keeps checking the rest, and reports zero counts.
    Raises `CsvFileError` when the file as a whole cannot be used (empty, not UTF-8, no email
    column), possibly after some chunks were flushed: the caller rolls back then too.
    `source` and `staff_user_id` go into the consent events of the contacts created.
    """
    require_role("editor")
    report = ImportReport(dry_run=dry_run, strict=strict, source=source)
    state = _ImportState(report, staff_user_id)
    session.flush()
    rows = _open_rows(rows_or_file, report)
    try:
        for chunk in _chunks(iter(rows), report):
            if report.failed_strict:
                continue  # keep validating to list every bad row, but write nothing more
            _write_chunk(session, chunk, state)
    finally:
        if isinstance(rows, ContactCsvReader):
            rows.close()
    _expire_loaded(session)
    if report.failed_strict:
        report.suppressed = []  # only the chunks before the first bad row were checked
    else:
        for outcome in state.outcomes.values():
            setattr(report, outcome, getattr(report, outcome) + 1)
    if report.applied:
        record(session, "contact.import", "import", None, f"Import ({source})",
               {"created": report.created, "updated": report.updated,
                "rejected": len(report.rejected)})
    return report


def _expire_loaded(session) -> None:
    """Objects loaded before the import would otherwise show the values it replaced."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (Contact, Organisation, ContactCountry, ContactTopic)):
            session.expire(obj)
