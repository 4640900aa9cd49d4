from __future__ import annotations

import contextlib

import click
from flask import current_app
from flask.cli import AppGroup

from outreach.devmail.server import serve_forever
from outreach.devmail.store import MailStore

devmail_cli = AppGroup("devmail", help="Development mail catcher (never use it in production).")


@devmail_cli.command("serve")
@click.option("--host", default=None, help="Default: DEV_MAIL_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default: DEV_MAIL_PORT (1025).")
def serve_command(host: str | None, port: int | None) -> None:
    """Accept mail on a local port and keep it for /dev/mail."""
    config = current_app.config
    host = host or config["DEV_MAIL_HOST"]
    port = port or config["DEV_MAIL_PORT"]
    store = MailStore(config["DEV_MAIL_DIR"])
    click.echo(f"Development mail catcher on {host}:{port}, keeping messages in {store.directory}")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve_forever(store, host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program holds the "
            f"port: set DEV_MAIL_PORT to a free one (e.g. DEV_MAIL_PORT=2525 make run)."
        ) from exc


@devmail_cli.command("clear")
def clear_command() -> None:
    """Delete every caught message."""
    removed = MailStore(current_app.config["DEV_MAIL_DIR"]).clear()
    click.echo(f"Deleted {removed} message(s).")
