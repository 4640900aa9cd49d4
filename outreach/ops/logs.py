"""Logging setup: plain text (default) or one JSON object per line (LOG_FORMAT=json).

While a worker sends a message, every log record carries `campaign_id` and `outbox_id` (see
`delivery_context`), so a JSON log can be filtered by campaign or traced to one outbox row.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d"
CONTEXT_FIELDS = ("campaign_id", "outbox_id")

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "outreach_log_context", default=None
)


@contextmanager
def delivery_context(**fields) -> Iterator[None]:
    """Add `fields` (campaign_id, outbox_id) to every record logged inside the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current delivery context onto the record (never overriding `extra=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        timestamp=False,
    )


def make_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """With LOG_FORMAT=json, send every log record to stderr as JSON. Plain text leaves logging
    as the commands and servers set it up."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if any(getattr(handler, "outreach_json", False) for handler in root.handlers):
        return
    handler = make_handler("json")
    handler.outreach_json = True
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
