"""Messages caught in development, kept in a Maildir so the catcher and the web app share them."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass
class CaughtMessage:
    key: str
    message: EmailMessage
    size: int

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def sender(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def recipients(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def date(self):
        try:
            return parsedate_to_datetime(self.message["Date"]) if self.message["Date"] else None
        except (TypeError, ValueError):
            return None

    def body(self, subtype: str) -> str | None:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else None


class MailStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _box(self) -> mailbox.Maildir:
        for sub in ("tmp", "new", "cur"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        return mailbox.Maildir(self.directory, factory=None, create=False)

    def add(self, raw: bytes) -> str:
        return self._box().add(raw)

    def _load(self, box: mailbox.Maildir, key: str) -> CaughtMessage:
        raw = box.get_bytes(key)
        return CaughtMessage(key, message_from_bytes(raw, policy=policy.default), len(raw))

    def list(self, limit: int = 100, offset: int = 0) -> tuple[list[CaughtMessage], int]:
        """Newest first (Maildir keys start with the delivery time)."""
        box = self._box()
        keys = sorted(box.keys(), reverse=True)
        return [self._load(box, key) for key in keys[offset : offset + limit]], len(keys)

    def get(self, key: str) -> CaughtMessage | None:
        box = self._box()
        try:
            return self._load(box, key)
        except KeyError:
            return None

    def raw(self, key: str) -> bytes | None:
        try:
            return self._box().get_bytes(key)
        except KeyError:
            return None

    def clear(self) -> int:
        box = self._box()
        keys = list(box.keys())
        for key in keys:
            box.discard(key)
        return len(keys)
