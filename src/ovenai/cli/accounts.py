"""`ovenai users ...` and `ovenai tokens ...`: people who sign in and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ovenai import auth
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.models import Role

users_app = typer.Typer(help="People who sign in.")
tokens_app = typer.Typer(help="API tokens.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="admin or agent")] = Role.AGENT,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None,
        typer.Option(help="Password (visible to other local users in `ps`: prefer the next)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="A user for API tokens only: never signs in.")
    ] = False,
) -> None:
    """Create a user who can sign in (the password is asked for on a terminal)."""
    try:
        secret = _password(password, password_stdin=password_stdin, no_password=no_password)
    except InvalidInput as exc:
        raise common.fail(exc) from None

    async def work(db: Database) -> None:
        await auth.create_user(db, email=email, role=role, password=secret, display_name=name)

    common.with_db(common.settings(), work)
    typer.echo(f"created {role.value} {email.strip().lower()}")


def _password(given: str | None, *, password_stdin: bool, no_password: bool) -> str | None:
    """The new user's password from exactly one source; refused when there is none.

    Without a terminal a forgotten password option used to create a user who could never
    sign in, and the command still succeeded: now it must be said which way is meant.
    """
    if sum((given is not None, password_stdin, no_password)) > 1:
        raise InvalidInput(
            "give only one of --password, --password-stdin and --no-password", field="password"
        )
    if password_stdin:
        return _from_stdin()
    if given is not None or no_password:
        return given
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    raise InvalidInput(
        "no terminal to ask for the password: pass --password-stdin "
        "(or --no-password for a user of API tokens only)",
        field="password",
    )


def _from_stdin() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("--password-stdin read an empty password", field="password")
    return line


@tokens_app.command("create")
def tokens_create(
    email: str, name: Annotated[str, typer.Option(help="What the token is for.")] = ""
) -> None:
    """Print a new API token for a user (shown once; only its hash is kept)."""

    async def work(db: Database) -> auth.IssuedToken:
        return await auth.create_token(db, email=email, name=name)

    issued = common.with_db(common.settings(), work)
    typer.echo(issued.token)


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token's id, prefix, owner and state (tokens themselves are never stored)."""

    async def work(db: Database) -> list[auth.TokenInfo]:
        return await auth.list_tokens(db)

    for token in common.with_db(common.settings(), work):
        state = "revoked" if token.revoked else "active"
        typer.echo(f"{token.id} {token.prefix}… {token.user_email} {token.name} {state}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke a token: it stops authenticating at once."""

    async def work(db: Database) -> None:
        await auth.revoke_token(db, token_id=token_id)

    common.with_db(common.settings(), work)
    typer.echo(f"revoked {token_id}")
