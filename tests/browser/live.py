"""A live Outreach for the browser tests, run as in production.

The web app (`flask run`), one delivery worker and the scheduler are real processes configured only
through the environment (`tests/reliability/processes.py`), on a scratch SQLite database built with
`flask db upgrade` and `flask calendar load`. A real SMTP server on loopback catches every message
the app sends, confirmation emails and campaigns alike.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.reliability.processes import FLASK, ROOT, ProcessGroup, delivery_environment

STAFF_EMAIL = "editor@example.org"
STAFF_PASSWORD = "browser-tests-password"
START_TIMEOUT = 30  # seconds for the web app to answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MailCatcher:
    """A real aiosmtpd server on 127.0.0.1 keeping every message it accepts."""

    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    def start(self) -> MailCatcher:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(
        self, predicate: Callable[[list[EmailMessage]], bool], timeout: float = 20
    ) -> list[EmailMessage]:
        """Wait until `predicate(messages)` holds; returns the messages received so far."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot = list(self.messages)
            if predicate(snapshot) or time.monotonic() >= deadline:
                return snapshot
            time.sleep(0.1)


@dataclass
class LiveOutreach:
    base_url: str
    database_url: str
    mail: MailCatcher
    processes: ProcessGroup
    staff_email: str = STAFF_EMAIL
    staff_password: str = STAFF_PASSWORD

    def url(self, path: str) -> str:
        return self.base_url + path

    def logs(self) -> str:
        return self.processes.logs()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _prepare_database(group: ProcessGroup) -> None:
    for name, args in (("migrate", ("db", "upgrade")), ("calendar", ("calendar", "load"))):
        process = group.run(name, *args, timeout=60)
        if process.process.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{process.log()}")
    created = subprocess.run(
        [str(FLASK), "--app", "wsgi", "users", "create", STAFF_EMAIL, "--role", "editor"]
        + ["--name", "Eda Editor", "--password-stdin"],
        input=STAFF_PASSWORD + "\n",
        cwd=ROOT,
        env=group.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if created.returncode != 0:
        raise RuntimeError(f"flask users create failed:\n{created.stdout}{created.stderr}")


@contextmanager
def live_outreach(directory: Path) -> Iterator[LiveOutreach]:
    """Start everything, yield once the web app answers, and stop every process afterwards."""
    mail = MailCatcher().start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = f"sqlite:///{directory / 'outreach.db'}"
    env = delivery_environment(
        database_url,
        mail.port,
        PUBLIC_BASE_URL=base_url,
        SESSION_COOKIE_SECURE=0,
        ORGANISATION_NAME="UPR Info",
        MAIL_DEFAULT_SENDER="UPR Info <news@example.org>",
        DELIVERY_BATCH_SIZE=50,
    )
    try:
        with ProcessGroup(directory, env) as group:
            _prepare_database(group)
            web = group.start(
                "web", "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"
            )
            group.worker("worker")
            group.scheduler("scheduler")
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(port):
                if not web.running() or time.monotonic() > deadline:
                    raise RuntimeError(f"the web app did not start:\n{group.logs()}")
                time.sleep(0.1)
            yield LiveOutreach(base_url, database_url, mail, group)
            for process in group.processes:
                process.terminate(timeout=5)
    finally:
        mail.stop()
