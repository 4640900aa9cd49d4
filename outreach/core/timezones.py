"""Geneva time for people, UTC in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TZ = "Europe/Zurich"


def local_zone() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", DEFAULT_TZ) if has_app_context() else DEFAULT_TZ
    return ZoneInfo(name)


def to_local(value: datetime) -> datetime:
    return value.astimezone(local_zone())


def local_to_utc(value: datetime) -> datetime:
    """Interpret a naive datetime as local (Geneva) time and convert it to UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value.astimezone(UTC)


def local_date_at(day: date, at: time) -> datetime:
    """`day` at the local wall-clock time `at`, in UTC (correct across daylight saving)."""
    return local_to_utc(datetime.combine(day, at))


def local_today() -> date:
    return datetime.now(local_zone()).date()
