"""Recurrences as iCalendar RRULEs, read in the series' local wall-clock time.

The rule runs on naive local datetimes from `starts_on` at the rule's BYHOUR:BYMINUTE, and each
occurrence is then placed in the time zone: "every first Monday at 09:00" is 09:00 in Geneva in
winter and in summer (08:00 or 07:00 UTC). The staff form builds two shapes of rule, monthly on
the nth weekday and every N weeks on a weekday; any valid RRULE of daily or coarser frequency is
accepted from code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr

WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
ALLOWED_FREQUENCIES = (YEARLY, MONTHLY, WEEKLY, DAILY)


class RecurrenceError(ValueError):
    """The rule cannot be used; the message says why."""


@dataclass(frozen=True)
class Recurrence:
    """What the staff form edits: monthly on the nth weekday, or every N weeks on a weekday."""

    kind: str  # "monthly" or "weekly"
    weekday: str  # "MO".."SU"
    at: time
    nth: int = 1  # monthly: 1..4 or -1 (last)
    interval: int = 1  # weekly: every N weeks

    def to_rrule(self) -> str:
        if self.weekday not in WEEKDAYS:
            raise RecurrenceError("Choose a day of the week.")
        when = f"BYHOUR={self.at.hour};BYMINUTE={self.at.minute};BYSECOND=0"
        if self.kind == "monthly":
            if self.nth not in NTH:
                raise RecurrenceError("Choose the first, second, third, fourth or last weekday.")
            return f"FREQ=MONTHLY;BYDAY={self.nth}{self.weekday};{when}"
        if self.kind == "weekly":
            if not 1 <= self.interval <= 52:
                raise RecurrenceError("Repeat every 1 to 52 weeks.")
            return f"FREQ=WEEKLY;INTERVAL={self.interval};BYDAY={self.weekday};{when}"
        raise RecurrenceError("Choose monthly or weekly.")

    def describe(self) -> str:
        hour = f"{self.at:%H:%M}"
        if self.kind == "monthly":
            return f"Every {NTH[self.nth]} {WEEKDAYS[self.weekday]} of the month at {hour}"
        every = "Every" if self.interval == 1 else f"Every {self.interval} weeks on"
        return f"{every} {WEEKDAYS[self.weekday]} at {hour}"


def parts(rule: str) -> dict[str, str]:
    return dict(
        part.split("=", 1) for part in rule.upper().removeprefix("RRULE:").split(";") if "=" in part
    )


def from_rrule(rule: str) -> Recurrence | None:
    """The form's view of a rule, or None for a rule the form cannot show."""
    p = parts(rule)
    try:
        at = time(int(p.get("BYHOUR", 0)), int(p.get("BYMINUTE", 0)))
        day = p.get("BYDAY", "")
        if p.get("FREQ") == "MONTHLY" and len(day) >= 3:
            return Recurrence("monthly", day[-2:], at, nth=int(day[:-2]))
        if p.get("FREQ") == "WEEKLY" and len(day) == 2:
            return Recurrence("weekly", day, at, interval=int(p.get("INTERVAL", 1)))
    except (ValueError, TypeError):
        return None
    return None


def describe(rule: str) -> str:
    recurrence = from_rrule(rule)
    return recurrence.describe() if recurrence else rule


def _rule(rule: str, starts_on: date):
    try:
        parsed = rrulestr(rule, dtstart=datetime.combine(starts_on, time(0, 0)))
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"Not a valid recurrence rule: {exc}") from exc
    if getattr(parsed, "_freq", None) not in ALLOWED_FREQUENCIES:
        raise RecurrenceError("A series repeats at most once a day.")
    return parsed


def validate(rule: str, starts_on: date) -> str:
    """The rule, upper-cased; RecurrenceError when it is invalid or never occurs."""
    rule = rule.strip().upper().removeprefix("RRULE:")
    if _rule(rule, starts_on).after(datetime.combine(starts_on, time(0, 0)), inc=True) is None:
        raise RecurrenceError("This recurrence never occurs.")
    return rule


def occurrences(
    rule: str, starts_on: date, zone: str, after: datetime, until: datetime
) -> list[datetime]:
    """Occurrences in (after, until], in UTC (`after` and `until` are aware)."""
    tz = ZoneInfo(zone)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    local_until = until.astimezone(tz).replace(tzinfo=None)
    found = []
    for local in _rule(rule, starts_on).between(local_after, local_until, inc=True):
        moment = local.replace(tzinfo=tz).astimezone(UTC)
        if after < moment <= until:
            found.append(moment)
    return found


def next_occurrence(rule: str, starts_on: date, zone: str, after: datetime) -> datetime | None:
    tz = ZoneInfo(zone)
    parsed = _rule(rule, starts_on)
    local = parsed.after(after.astimezone(tz).replace(tzinfo=None))
    while local is not None:
        moment = local.replace(tzinfo=tz).astimezone(UTC)
        if moment > after:
            return moment
        local = parsed.after(local)
    return None
