"""A live Outreach for the browser tests, run as in production.

The web app (`flask run`), one delivery worker and the scheduler are real processes configured only
through the environment (`tests/reliability/processes.py`), on a scratch SQLite database built by
the migrations, with the shipped UPR calendar and one editor account. A real SMTP server on
loopback catches every message the app sends, confirmation emails and campaigns alike.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.reliability.processes import ProcessGroup, delivery_environment

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


def _prepare_database(database_url: str) -> None:
    """`flask db upgrade`, `flask calendar load` and one editor account, run in this process
    (starting three more processes would cost seconds each on a busy machine)."""
    from flask_migrate import upgrade

    from outreach import create_app
    from outreach.auth.services import create_user
    from outreach.calendar.loader import load_calendar
    from outreach.extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        upgrade()
        load_calendar(db.session, None)
        create_user(db.session, STAFF_EMAIL, STAFF_PASSWORD, role="editor", name="Eda Editor")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@contextmanager
def live_outreach(directory: Path, database_url: str | None = None) -> Iterator[LiveOutreach]:
    """Start everything, yield once the web app answers, and stop every process afterwards.

    The database is an empty one at `database_url`, else a new SQLite file in `directory`."""
    mail = MailCatcher().start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    database_url = database_url or f"sqlite:///{directory / 'outreach.db'}"
    env = delivery_environment(
        database_url,
        mail.port,
        PUBLIC_BASE_URL=base_url,
        SESSION_COOKIE_SECURE=0,
        ORGANISATION_NAME="UPR Info",
        MAIL_DEFAULT_SENDER="UPR Info <news@example.org>",
        DELIVERY_BATCH_SIZE=50,
        DELIVERY_POLL_SECONDS=0.5,
    )
    try:
        _prepare_database(database_url)
        with ProcessGroup(directory, env) as group:
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
