"""`flask demo load`: fictional stakeholders to try Outreach with; safe to repeat."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from outreach.auth.services import find_user
from outreach.calendar.loader import CalendarDataError
from outreach.core.errors import ServiceError
from outreach.demo.services import DEMO_ADMIN_EMAIL, load_demo
from outreach.extensions import db

demo_cli = AppGroup("demo", help="Demo data for trying Outreach.")

PASSWORD_FILE = "demo-admin-password.txt"


def is_production(app: Flask) -> bool:
    """True on the production settings (not `app.debug`, which `flask` resets from FLASK_DEBUG)."""
    return app.config.get("CONFIG_NAME") == "production"


def password_file(app: Flask) -> Path:
    return Path(app.instance_path) / PASSWORD_FILE


def save_password(path: Path, password: str) -> None:
    """Write the password readable by its owner only (0600), even if the file existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    path.chmod(0o600)


def known_password(path: Path, env_password: str | None) -> str | None:
    """The demo admin's password if the environment or the saved file still knows it."""
    user = find_user(db.session, DEMO_ADMIN_EMAIL)
    candidates = [env_password]
    if path.is_file():
        candidates.append(path.read_text(encoding="utf-8").strip())
    for candidate in candidates:
        if candidate and user is not None and user.check_password(candidate):
            return candidate
    return None


@demo_cli.command("load")
@click.option("--force", is_flag=True, help="Load even when the app runs a production config.")
def load_command(force: bool) -> None:
    """Load fictional contacts (example.org) for the States of sessions 36 and 50, a permanent
    mission per UN member State, demo segments and a demo admin. Running it again changes nothing.

    The admin password comes from $DEMO_ADMIN_PASSWORD, else it is generated and saved in the
    instance folder (demo-admin-password.txt, readable by you only).
    """
    app = current_app._get_current_object()
    if is_production(app) and not force:
        raise click.ClickException(
            "Refusing to load demo data: this is a production configuration "
            "(neither debug nor testing). Use --force if you really mean it."
        )
    env_password = os.environ.get("DEMO_ADMIN_PASSWORD") or None
    try:
        report = load_demo(db.session, admin_password=env_password)
    except (ServiceError, CalendarDataError) as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()

    path = password_file(app)
    password = report.admin_password
    if report.admin_created and not env_password:
        save_password(path, password)
    elif not report.admin_created:
        password = known_password(path, env_password)
    click.echo(report.summary())
    if password:
        click.echo(f"Demo admin: {DEMO_ADMIN_EMAIL} / {password}")
    else:
        click.echo(f"Demo admin: {DEMO_ADMIN_EMAIL} (password set elsewhere; not shown)")
