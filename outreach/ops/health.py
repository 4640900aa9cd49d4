"""Readiness checks: the database answers a query, the SMTP relay answers NOOP."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict:
        return {"ok": self.ok, **({"error": self.detail} if self.detail else {})}


def check_database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
        return Check("database", True)
    except Exception as exc:
        session.rollback()
        return Check("database", False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def check_smtp(config, timeout: float) -> Check:
    """Connect to MAIL_SERVER:MAIL_PORT as the senders do (SSL or STARTTLS) and send NOOP."""
    host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    try:
        if config.get("MAIL_USE_SSL"):
            client = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if config.get("MAIL_USE_TLS"):
                client.starttls(context=ssl.create_default_context())
            code, reply = client.noop()
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except (smtplib.SMTPException, OSError) as exc:
        return Check("smtp", False, f"{host}:{port}: {type(exc).__name__}: {exc}"[:300])
    if code != 250:
        return Check("smtp", False, f"{host}:{port} answered {code} {reply!r}"[:300])
    return Check("smtp", True)
