"""The development mail catcher receives real SMTP and staff read the messages at /dev/mail."""

import smtplib
from email.message import EmailMessage

import pytest

from outreach.devmail.server import start_catcher
from outreach.devmail.store import MailStore
from tests.conftest import free_port


@pytest.fixture
def catcher(app):
    store = MailStore(app.config["DEV_MAIL_DIR"])
    store.clear()
    port = free_port()
    controller = start_catcher(store, "127.0.0.1", port)
    yield port
    controller.stop()
    store.clear()


def send(port: int, subject: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = "Outreach <outreach@example.org>"
    message["To"] = "Défenseure <ana@example.org>"
    message["Subject"] = subject
    message.set_content("Plain text body")
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(message)


def test_caught_messages_are_listed_and_readable(catcher, staff_client):
    send(catcher, "Session 50: pre-sessions open", "<p>Hello <b>world</b></p>")
    send(catcher, "Rappel : date limite")
    listing = staff_client.get("/dev/mail/").get_data(as_text=True)
    assert "Session 50: pre-sessions open" in listing
    assert "Rappel : date limite" in listing
    caught, total = MailStore(staff_client.application.config["DEV_MAIL_DIR"]).list()
    assert total == 2
    key = next(m.key for m in caught if m.subject.startswith("Session 50"))
    page = staff_client.get(f"/dev/mail/{key}").get_data(as_text=True)
    assert "Plain text body" in page
    assert "sandbox" in page and f'src="/dev/mail/{key}/html"' in page
    frame = staff_client.get(f"/dev/mail/{key}/html")
    assert "<p>Hello <b>world</b></p>" in frame.get_data(as_text=True)
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert "script-src" not in frame.headers["Content-Security-Policy"]
    assert staff_client.get(f"/dev/mail/{key}/raw").status_code == 200


def test_clear_deletes_everything(catcher, staff_client):
    send(catcher, "One")
    staff_client.post("/dev/mail/clear")
    assert "No mail caught yet" in staff_client.get("/dev/mail/").get_data(as_text=True)


def test_viewer_needs_login_and_is_off_outside_development(app, client):
    assert client.get("/dev/mail/").status_code == 302
    app.config["DEV_MAIL_VIEWER"] = False
    try:
        assert client.get("/dev/mail/").status_code == 404
    finally:
        app.config["DEV_MAIL_VIEWER"] = True


def test_unknown_message_is_404(catcher, staff_client):
    assert staff_client.get("/dev/mail/nope").status_code == 404
    assert staff_client.get("/dev/mail/nope/html").status_code == 404


def test_a_busy_port_is_a_clear_error_naming_the_setting(app, catcher):
    result = app.test_cli_runner().invoke(args=["devmail", "serve", "--port", str(catcher)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{catcher}" in result.output
    assert "DEV_MAIL_PORT" in result.output
    assert "Traceback" not in result.output


def test_development_mail_goes_to_the_catcher_port_unless_told_otherwise(monkeypatch):
    from config import DevelopmentConfig

    monkeypatch.delenv("MAIL_PORT", raising=False)
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    monkeypatch.setenv("DEV_MAIL_PORT", "2526")
    assert DevelopmentConfig().MAIL_PORT == 2526
    monkeypatch.setenv("MAIL_PORT", "2600")
    assert DevelopmentConfig().MAIL_PORT == 2600
