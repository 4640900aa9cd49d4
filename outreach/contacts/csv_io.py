"""Contact CSV files: the column set, tolerant header names, reading rows, writing an export.

Reading streams the file line by line and decodes each physical line itself, so a row's number is
its first physical line in the file (header = line 1) even when quoted cells contain newlines, and
a byte that is not UTF-8 is reported with the line it is on.

Cells starting with `=`, `+`, `-` or `@` are written with a leading `'` so a spreadsheet does not
run them as formulas; reading removes that `'` again, so export then import gives back the same
values.
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import IO, Any, TextIO

from sqlalchemy import select

from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.contacts.queries import ContactFilter, apply_sort

# The columns an export writes and an import understands, in export order.
COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "organisation",
    "type",
    "role_title",
    "language",
    "country",
    "countries",
    "topics",
    "status",
    "notes",
    "ecosoc_status",
    "ganhri_accreditation",
)

# Other names accepted in a header, compared after `header_key` (case, accents, spaces and
# punctuation ignored): "E-mail", "First name", "Prénom" and "ORGANIZATION" all match.
HEADER_ALIASES = {
    "email": ("e-mail", "email address", "mail", "courriel", "adresse courriel", "adresse e-mail",
              "correo", "correo electronico"),
    "first_name": ("first", "given name", "forename", "prénom", "nombre"),
    "last_name": ("last", "surname", "family name", "nom", "nom de famille", "apellido",
                  "apellidos"),
    "organisation": ("organization", "organisation name", "organization name", "org", "organisme",
                     "organización", "institution"),
    "type": ("contact type", "stakeholder type", "tipo"),
    "role_title": ("role", "title", "job title", "position", "fonction", "cargo"),
    "language": ("lang", "langue", "idioma", "preferred language"),
    "country": ("primary country", "country code", "pays", "país"),
    "countries": ("countries of work", "other countries", "work countries", "pays de travail",
                  "países"),
    "topics": ("topic", "tags", "themes", "thèmes", "temas"),
    "status": ("statut", "estado"),
    "notes": ("note", "comments", "comment", "remarques"),
    "ecosoc_status": ("ecosoc", "ecosoc status", "ecosoc consultative status"),
    "ganhri_accreditation": ("ganhri", "ganhri status", "accreditation"),
}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection list
DELIMITERS = (",", ";", "\t")
UTF8_BOM = b"\xef\xbb\xbf"


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, no email column...); says what to fix."""


def header_key(text: str) -> str:
    """Compare header names ignoring case, accents, spaces and punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


def _alias_table() -> dict[str, str]:
    table = {}
    for column in COLUMNS:
        for name in (column, *HEADER_ALIASES.get(column, ())):
            table[header_key(name)] = column
    return table


ALIAS_TABLE = _alias_table()


def column_for(header: str) -> str | None:
    """The import column a header name stands for, or None if it is not one we know."""
    return ALIAS_TABLE.get(header_key(header))


@dataclass(slots=True)
class CsvRow:
    """One data row: its first physical line in the file, and its non-empty cells by column."""

    line: int
    values: dict[str, str]


def clean_cell(value: str) -> str:
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def safe_cell(value: str) -> str:
    """Keep spreadsheets from evaluating a cell as a formula (undone by `clean_cell`)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _decoded_lines(stream: Iterable[bytes]) -> Iterator[str]:
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CsvFileError(
                f"Line {number} is not UTF-8 text. Save the file as \"CSV UTF-8\" "
                "(in Excel: File > Save As > CSV UTF-8) and import it again."
            ) from None


def _text_lines(stream: Iterable[str]) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        yield line.removeprefix("\ufeff") if number == 1 else line


def sniff_delimiter(header_line: str) -> str:
    """The separator used in the header line: `;`, tab or (by default) `,`."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class ContactCsvReader:
    """Reads a contact CSV from a path, or a binary or text file object.

    The header is read and checked when the reader is created (raising `CsvFileError`);
    iterating yields `CsvRow`s, skipping blank lines. Use it as a context manager when it is
    given a path, so the file is closed.
    """

    def __init__(self, source: str | os.PathLike | IO[Any]):
        self._owned: IO[bytes] | None = None
        if isinstance(source, (str, os.PathLike)):
            self._owned = source = open(source, "rb")  # noqa: SIM115  (closed by close())
        self._lines = self._lines_of(source)
        try:
            header_line = next(self._lines)
        except StopIteration:
            self.close()
            raise CsvFileError("The file is empty.") from None
        if not header_line.strip():
            self.close()
            raise CsvFileError("The first line is empty: it must name the columns.")
        self.delimiter = sniff_delimiter(header_line)
        self._reader = csv.reader(chain([header_line], self._lines), delimiter=self.delimiter)
        self.columns: dict[int, str] = {}
        self.ignored: list[str] = []
        self._read_header(self._next_cells())

    @staticmethod
    def _lines_of(source: IO[Any]) -> Iterator[str]:
        probe = source.read(0)
        if isinstance(probe, bytes):
            return _decoded_lines(source)
        return _text_lines(source)

    def _next_cells(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as exc:
            raise CsvFileError(f"Line {self._reader.line_num} cannot be read: {exc}.") from None

    def _read_header(self, cells: list[str]) -> None:
        seen: dict[str, str] = {}
        for index, name in enumerate(cells):
            name = name.strip()
            column = column_for(name) if name else None
            if column is None:
                if name:
                    self.ignored.append(name)
                continue
            if column in seen:
                raise CsvFileError(
                    f"The columns {seen[column]!r} and {name!r} both mean {column}; keep one."
                )
            seen[column] = name
            self.columns[index] = column
        if "email" not in seen:
            found = ", ".join(repr(c.strip()) for c in cells if c.strip()) or "none"
            raise CsvFileError(
                "The file has no email column. Its first line must name the columns, for "
                f"example: {','.join(COLUMNS[:4])} (columns found: {found})."
            )

    def __iter__(self) -> Iterator[CsvRow]:
        reader = self._reader
        columns = list(self.columns.items())
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvFileError(f"Line {start} cannot be read: {exc}.") from None
            width = len(cells)
            values = {}
            for index, column in columns:
                if index < width:
                    value = clean_cell(cells[index])
                    if value:
                        values[column] = value
            if values or any(cell.strip() for cell in cells):
                yield CsvRow(start, values)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> ContactCsvReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mapping_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[CsvRow]:
    """Rows given as mappings (API bodies, tests): keys are header names, lists are joined.

    Row numbers are counted as in a file whose first line is the header (first row = line 2).
    """
    for line, row in enumerate(rows, start=2):
        values = {}
        for name, raw in row.items():
            column = column_for(str(name))
            if column is None or raw is None:
                continue
            if isinstance(raw, (list, tuple, set)):
                raw = ";".join(str(item) for item in raw)
            elif isinstance(raw, bool):
                raw = "yes" if raw else "no"
            value = str(raw).strip()
            if value:
                values[column] = value
        yield CsvRow(line, values)


# ---- export -------------------------------------------------------------------------------

EXPORT_BATCH = 1000


@dataclass(slots=True)
class _Links:
    countries: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    topics: defaultdict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


def _links_for(session, ids: list[int]) -> _Links:
    links = _Links()
    country_rows = session.execute(
        select(ContactCountry.contact_id, ContactCountry.country_code)
        .where(ContactCountry.contact_id.in_(ids), ContactCountry.is_primary.is_(False))
        .order_by(ContactCountry.contact_id, ContactCountry.country_code)
    )
    for contact_id, code in country_rows:
        links.countries[contact_id].append(code)
    topic_rows = session.execute(
        select(ContactTopic.contact_id, ContactTopic.topic)
        .where(ContactTopic.contact_id.in_(ids))
        .order_by(ContactTopic.contact_id, ContactTopic.topic)
    )
    for contact_id, topic in topic_rows:
        links.topics[contact_id].append(topic)
    return links


def export_select(contact_filter: ContactFilter, sort: str | None):
    """The SELECT behind an export: contact columns and its organisation's, filtered and sorted."""
    stmt = (
        select(
            Contact.id,
            Contact.email,
            Contact.first_name,
            Contact.last_name,
            Organisation.name.label("organisation"),
            Contact.type,
            Contact.role_title,
            Contact.language,
            Contact.country_code,
            Contact.status,
            Contact.notes,
            Organisation.ecosoc_status,
            Organisation.ganhri_accreditation,
        )
        .outerjoin(Organisation, Contact.organisation_id == Organisation.id)
        .where(*contact_filter.conditions())
    )
    stmt, _ = apply_sort(stmt, sort)
    return stmt


def _export_row(row, links: _Links) -> list[str]:
    has_org = row.organisation is not None
    values = [
        row.email,
        row.first_name,
        row.last_name,
        row.organisation or "",
        row.type,
        row.role_title,
        row.language,
        row.country_code or "",
        "; ".join(links.countries.get(row.id, ())),
        "; ".join(links.topics.get(row.id, ())),
        row.status,
        row.notes,
        ("yes" if row.ecosoc_status else "no") if has_org else "",
        (row.ganhri_accreditation or "") if has_org else "",
    ]
    return [safe_cell(value or "") for value in values]


def write_contacts_csv(
    session, contact_filter: ContactFilter, sort: str | None, out: TextIO
) -> int:
    """Write the header and every contact matching the filter to `out`; return the row count.

    Contacts are streamed in batches (`yield_per`) with two link queries per batch, so memory
    stays flat whatever the registry's size. `out` should be opened with `newline=""`.
    """
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    result = session.execute(
        export_select(contact_filter, sort).execution_options(yield_per=EXPORT_BATCH)
    )
    count = 0
    for batch in result.partitions():
        links = _links_for(session, [row.id for row in batch])
        writer.writerows(_export_row(row, links) for row in batch)
        count += len(batch)
    return count
