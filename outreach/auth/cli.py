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


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown in the list of tokens).")
def token_command(email: str, name: str) -> None:
    """Create an API token for the account EMAIL and print it (it is shown only this once)."""
    from outreach.api.tokens import create_token
    from outreach.auth.services import find_user

    user = find_user(db.session, email)
    if user is None:
        raise click.ClickException(f"There is no account {email!r}.")
    try:
        _token, secret = create_token(db.session, user, name)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(secret)
    click.echo(
        f"API token for {user.email} ({user.role}); store it now, it is not shown again.", err=True
    )
