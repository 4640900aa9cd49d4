"""Where bounce messages come from: a Maildir folder or an IMAP mailbox.

Both yield `Item`s (a key and the raw bytes) and, once the caller has committed what it recorded,
`mark_processed` makes sure they are not read again:
- Maildir: every file in `new/` and `cur/` is unprocessed; a processed one is renamed (atomic on
  one filesystem) into the Maildir++ sub-folder `.Processed/cur/` with the Seen flag, where a mail
  client shows it as the folder "Processed". A lock file keeps two runs from reading at once.
- IMAP: the messages without the \\Seen flag are unprocessed (fetched with BODY.PEEK so reading
  does not set it); a processed one gets \\Seen. Use a mailbox that only Outreach reads: a person
  who opens a bounce there first would hide it from Outreach.
"""

from __future__ import annotations

import fcntl
import imaplib
import os
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROCESSED_FOLDER = ".Processed"
LOCK_FILE = ".outreach-bounces.lock"


class SourceError(Exception):
    """The mailbox cannot be opened or read; the message says why, for the operator."""


@dataclass(frozen=True)
class Item:
    key: str
    data: bytes


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class MaildirSource:
    name = "maildir"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        missing = [sub for sub in ("new", "cur") if not (self.path / sub).is_dir()]
        if missing:
            raise SourceError(
                f"{self.path} is not a Maildir: it has no {' or '.join(missing)}/ folder."
            )
        self._lock: Any = None

    def __enter__(self) -> MaildirSource:
        """Lock the folder: two runs at once would read the same files."""
        self._lock = open(self.path / LOCK_FILE, "a")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SourceError(
                f"Another process is reading bounces from {self.path}; try again later."
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def items(self) -> Iterator[Item]:
        for sub in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / sub), key=lambda e: e.name):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                try:
                    data = Path(entry.path).read_bytes()
                except FileNotFoundError:  # moved away meanwhile (another run)
                    continue
                yield Item(entry.path, data)

    def mark_processed(self, items: Iterable[Item]) -> None:
        folder = self.path / PROCESSED_FOLDER
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "maildirfolder").touch(exist_ok=True)
        for item in items:
            source = Path(item.key)
            base, _, info = source.name.partition(":")
            flags = set(info[2:]) if info.startswith("2,") else set()
            target = folder / "cur" / f"{base}:2,{''.join(sorted(flags | {'S'}))}"
            try:
                os.replace(source, target)
            except FileNotFoundError:
                continue


def _imap_connect(host: str, port: int, use_ssl: bool, timeout: float) -> imaplib.IMAP4:
    if use_ssl:
        return imaplib.IMAP4_SSL(
            host, port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    return imaplib.IMAP4(host, port, timeout=timeout)


class ImapSource:
    name = "imap"

    def __init__(
        self,
        host: str,
        user: str,
        password: str,
        *,
        port: int = 993,
        folder: str = "INBOX",
        use_ssl: bool = True,
        timeout: float = 60,
        connect: Callable[..., Any] | None = None,
    ):
        if not host or not user:
            raise SourceError("Set BOUNCE_IMAP_HOST and BOUNCE_IMAP_USER to read bounces by IMAP.")
        self.host, self.port, self.user, self.password = host, port, user, password or ""
        self.folder, self.use_ssl, self.timeout = folder, use_ssl, timeout
        self._connect = connect or _imap_connect
        self.client: Any = None

    @classmethod
    def from_config(cls, config, **kwargs: Any) -> ImapSource:
        return cls(
            config.get("BOUNCE_IMAP_HOST") or "",
            config.get("BOUNCE_IMAP_USER") or "",
            config.get("BOUNCE_IMAP_PASSWORD") or "",
            port=int(config.get("BOUNCE_IMAP_PORT") or 993),
            folder=config.get("BOUNCE_IMAP_FOLDER") or "INBOX",
            use_ssl=bool(config.get("BOUNCE_IMAP_SSL", True)),
            **kwargs,
        )

    def __enter__(self) -> ImapSource:
        try:
            self.client = self._connect(self.host, self.port, self.use_ssl, self.timeout)
            self.client.login(self.user, self.password)
            status, data = self.client.select(_quoted(self.folder))
        except (imaplib.IMAP4.error, OSError) as exc:
            self.close()
            raise SourceError(f"IMAP {self.host}:{self.port}: {exc}") from None
        if status != "OK":
            self.close()
            raise SourceError(f"IMAP folder {self.folder!r} cannot be opened: {_text(data)}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is None:
            return
        client, self.client = self.client, None
        for command in ("close", "logout"):
            try:
                getattr(client, command)()
            except (imaplib.IMAP4.error, OSError):
                continue

    def items(self) -> Iterator[Item]:
        status, data = self._command("SEARCH", None, "UNSEEN")
        for uid in (data[0] or b"").split():
            status, parts = self._command("FETCH", uid, "(BODY.PEEK[])")
            body = next(
                (part[1] for part in parts or () if isinstance(part, tuple) and len(part) > 1),
                None,
            )
            if body is not None:
                yield Item(uid.decode("ascii"), bytes(body))

    def mark_processed(self, items: Iterable[Item]) -> None:
        uids = [item.key for item in items]
        for start in range(0, len(uids), 200):
            self._command("STORE", ",".join(uids[start: start + 200]), "+FLAGS", "(\\Seen)")

    def _command(self, *args: Any) -> tuple[str, list]:
        try:
            status, data = self.client.uid(*args)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise SourceError(f"IMAP {args[0]} failed: {exc}") from None
        if status != "OK":
            raise SourceError(f"IMAP {args[0]} failed: {_text(data)}")
        return status, data


def _quoted(folder: str) -> str:
    return folder if folder.isalnum() else '"' + folder.replace('"', '\\"') + '"'


def _text(data: Any) -> str:
    if isinstance(data, list | tuple):
        return " ".join(_text(part) for part in data)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)
