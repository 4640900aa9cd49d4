"""Form validators shared by every domain."""

from __future__ import annotations

from wtforms.validators import ValidationError

NEWLINES = ("\r", "\n", "\x00")


def no_newlines(form, field) -> None:
    """Refuse line breaks in one-line fields that end up in mail headers (header injection)."""
    if isinstance(field.data, str) and any(c in field.data for c in NEWLINES):
        raise ValidationError("Must be a single line (no line breaks).")
