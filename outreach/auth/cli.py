from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from outreach.auth.models import ROLES
from outreach.auth.services import create_user
from outreach.core.errors import ServiceError
from outreach.extensions import db

users_cli = AppGroup("users", help="Manage staff accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a staff account; prompts for the password unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(db.session, email, password, role=role, name=name)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}")
