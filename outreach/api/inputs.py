"""Reading JSON bodies and query strings strictly: wrong types and unknown fields are a 400."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import request

from outreach.api.blueprint import ApiError
from outreach.core.errors import NotFound
from outreach.extensions import db

MAX_PER_PAGE = 100
MAX_INT = 2**31 - 1  # ids and numbers fit a 32-bit column
MISSING = object()


def bad_request(message: str, fields: dict[str, str] | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, fields)


def json_object() -> dict[str, Any]:
    """The request body, which must be a JSON object."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad_request("Send a JSON object (Content-Type: application/json).")
    return data


class Fields:
    """Typed access to a JSON object or query string; problems are gathered, then raised."""

    def __init__(self, data: dict[str, Any], allowed: tuple[str, ...], *, strings: bool = False):
        """`strings`: values come from a query string or form, so numbers and flags are text."""
        self.data = data
        self.strings = strings
        self.errors: dict[str, str] = {}
        for name in data:
            if name not in allowed:
                self.errors[name] = "Unknown field."

    def has(self, name: str) -> bool:
        return name in self.data

    def _get(self, name: str, required: bool):
        if name not in self.data:
            if required:
                self.errors[name] = "This field is required."
            return MISSING
        return self.data[name]

    def _fail(self, name: str, message: str):
        self.errors.setdefault(name, message)
        return MISSING

    def text(
        self,
        name: str,
        default: Any = "",
        *,
        required: bool = False,
        nullable: bool = False,
        max_length: int | None = None,
    ):
        value = self._get(name, required)
        if value is MISSING:
            return default
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            return self._fail(name, "Must be a string.")
        if "\x00" in value:
            return self._fail(name, "Must not contain NUL characters.")
        if max_length is not None and len(value) > max_length:
            return self._fail(name, f"At most {max_length} characters.")
        return value

    def integer(
        self,
        name: str,
        default: Any = None,
        *,
        required: bool = False,
        nullable: bool = False,
        minimum: int | None = None,
    ):
        value = self._get(name, required)
        if value is MISSING:
            return default
        if value is None and nullable:
            return None
        if self.strings and isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return self._fail(name, "Must be an integer.")
        if abs(value) > MAX_INT:
            return self._fail(name, "Too large.")
        if minimum is not None and value < minimum:
            return self._fail(name, f"Must be at least {minimum}.")
        return value

    def flag(self, name: str, default: Any = False, *, required: bool = False):
        value = self._get(name, required)
        if value is MISSING:
            return default
        if self.strings and isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            return self._fail(name, "Must be true or false.")
        return value

    def texts(self, name: str, default: Any = None, *, required: bool = False):
        value = self._get(name, required)
        if value is MISSING:
            return [] if default is None else default
        if not isinstance(value, list) or not all(
            isinstance(item, str) and "\x00" not in item for item in value
        ):
            return self._fail(name, "Must be a list of strings.")
        return value

    def integers(self, name: str, default: Any = None, *, required: bool = False):
        value = self._get(name, required)
        if value is MISSING:
            return [] if default is None else default
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) and abs(item) <= MAX_INT
            for item in value
        ):
            return self._fail(name, "Must be a list of integers.")
        return value

    def mapping(self, name: str, *, required: bool = False):
        value = self._get(name, required)
        if value is MISSING:
            return {}
        if not isinstance(value, dict):
            return self._fail(name, "Must be an object.")
        return value

    def mappings(self, name: str, *, required: bool = False):
        value = self._get(name, required)
        if value is MISSING:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return self._fail(name, "Must be a list of objects.")
        return value

    def day(self, name: str, default: Any = None, *, nullable: bool = False):
        value = self._get(name, False)
        if value is MISSING:
            return default
        if value is None and nullable:
            return None
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            return self._fail(name, "Must be a date as YYYY-MM-DD.")

    def moment(self, name: str, *, required: bool = False):
        """An ISO 8601 date and time with its offset (or Z)."""
        value = self._get(name, required)
        if value is MISSING:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return self._fail(name, "Must be an ISO 8601 date and time, e.g. 2027-01-31T09:00Z.")
        if parsed.tzinfo is None:
            return self._fail(name, "Give the time zone offset (e.g. +01:00 or Z).")
        return parsed

    def done(self) -> None:
        if self.errors:
            raise bad_request("Some fields are not valid.", dict(self.errors))


def query(allowed: tuple[str, ...]) -> Fields:
    """The query string (one value per name) as `Fields`; repeated names are for list filters."""
    fields = Fields(request.args.to_dict(), allowed + ("page", "per_page"), strings=True)
    for name, value in request.args.items(multi=True):
        if "\x00" in value:
            fields.errors[name] = "Must not contain NUL characters."
    return fields


def page_args(fields: Fields, default_per_page: int = 50) -> tuple[int, int]:
    page = fields.integer("page", 1, minimum=1)
    per_page = fields.integer("per_page", default_per_page, minimum=1)
    if isinstance(per_page, int) and per_page > MAX_PER_PAGE:
        fields.errors["per_page"] = f"At most {MAX_PER_PAGE}."
    return page, per_page


def find(model, ident: int, label: str):
    """The row with this id, or a 404 (ids beyond the column's range included)."""
    row = db.session.get(model, ident) if 0 < ident <= MAX_INT else None
    if row is None:
        raise NotFound(f"There is no {label} with the id {ident}.")
    return row


def page_json(page, serialise) -> dict[str, Any]:
    return {
        "items": [serialise(item) for item in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    }


def list_page(items: list, page: int, per_page: int, serialise) -> dict[str, Any]:
    """Paginate a list already in memory (small collections such as sessions)."""
    start = (page - 1) * per_page
    return {
        "items": [serialise(item) for item in items[start : start + per_page]],
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }
