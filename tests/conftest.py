"""Fixtures: an app on a real database (SQLite, and PostgreSQL when it answers), clients, SMTP.

Every test that uses `app` runs once per available database. `make test` prints which ran.
PostgreSQL tests use one database per xdist worker, created from `DATABASE_URL_TEST`
(default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import contextvars
import os
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import make_user

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str:
    return os.environ.get("DATABASE_URL_TEST") or PG_DEFAULT


def _postgres_answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def compile_translations() -> None:
    """Compile the .po catalogues to .mo when missing or stale, as `make translations` does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent / "outreach" / "translations"
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source)
        partial = mo.with_name(f"messages.{os.getpid()}.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        os.replace(partial, mo)  # atomic: parallel workers never read half a file


def pytest_configure(config):
    """Decide once (in the controller) which databases run; xdist workers inherit the answer."""
    compile_translations()
    if "OUTREACH_TEST_DATABASES" in os.environ:
        return
    wanted = os.environ.get("OUTREACH_TEST_ONLY")
    databases = ["sqlite"]
    if wanted != "sqlite" and _postgres_answers(_postgres_url()):
        databases.append("postgresql")
    if wanted == "postgresql":
        databases = [d for d in databases if d == "postgresql"]
    os.environ["OUTREACH_TEST_DATABASES"] = ",".join(databases)


def pytest_report_header(config):
    return f"databases: {os.environ.get('OUTREACH_TEST_DATABASES')}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    databases = os.environ.get("OUTREACH_TEST_DATABASES", "sqlite").split(",")
    pg = " (PostgreSQL not reachable: skipped)" if "postgresql" not in databases else ""
    terminalreporter.write_line(f"Databases tested: {', '.join(databases)}{pg}")


def _worker_id(config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


def _postgres_admin(database: str | None = None):
    base = make_url(_postgres_url())
    return base, create_engine(base, isolation_level="AUTOCOMMIT")


def _fresh_postgres_database(worker: str) -> str:
    """A new database for this worker; the process id keeps concurrent runs apart."""
    base, admin = _postgres_admin()
    name = f"{base.database}_outreach_{worker}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    _, admin = _postgres_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def pytest_generate_tests(metafunc):
    if "database_url" in metafunc.fixturenames:
        databases = os.environ.get("OUTREACH_TEST_DATABASES", "sqlite").split(",")
        metafunc.parametrize("database_url", databases, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_url(request, tmp_path_factory):
    worker = _worker_id(request.config)
    if request.param == "postgresql":
        url = _fresh_postgres_database(worker)
        yield url
        _drop_postgres_database(url)
        return
    yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'outreach.db'}"


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh context, as a real server does.

    The `app` fixture keeps an application context pushed for the test body; without this, every
    request would reuse it and share `g` (the signed-in user) and the database session.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    from outreach import create_app
    from outreach.extensions import db

    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEV_MAIL_DIR=str(tmp_path_factory.mktemp("devmail")),
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def _empty_tables(db) -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def app(_app):
    """The app with an application context pushed, on empty tables."""
    from outreach.extensions import db

    with _app.app_context():
        yield _app
        db.session.remove()
        _empty_tables(db)


@pytest.fixture
def db_session(app):
    from outreach.extensions import db

    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, user, password: str = "correct-horse-battery"):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def admin_user(db_session):
    user = make_user(db_session, "admin@example.org", role="admin")
    db_session.commit()
    return user


@pytest.fixture
def staff_client(app, admin_user):
    """A test client signed in as an admin."""
    return login(app.test_client(), admin_user)


@pytest.fixture
def viewer_client(app, db_session):
    user = make_user(db_session, "viewer@example.org", role="viewer")
    db_session.commit()
    return login(app.test_client(), user)


@dataclass
class CapturedMail:
    """Messages received by a real SMTP server on loopback."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} messages, got {len(self.messages)}"
        return self.messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on 127.0.0.1 collecting every message it receives."""
    from aiosmtpd.controller import Controller

    captured = CapturedMail("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            captured.envelopes.append(envelope)
            captured.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    controller = Controller(Handler(), hostname=captured.host, port=captured.port)
    controller.start()
    try:
        yield captured
    finally:
        controller.stop()


@pytest.fixture
def mail_server(app, smtp_server):
    """Point the app's outgoing mail at the `smtp_server` fixture for this test."""
    from outreach.extensions import mail

    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_SUPPRESS_SEND")
    saved = {key: app.config[key] for key in keys}
    app.config.update(
        MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False
    )
    mail.init_app(app)
    try:
        yield smtp_server
    finally:
        app.config.update(saved)
        mail.init_app(app)
