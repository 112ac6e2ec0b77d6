"""`ovenai users ...` and `ovenai tokens ...`: people who sign in and API tokens.

Commands run with an operator's reach (whoever can run them holds the settings and the
database already); what they change is audited as ``cli``."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from ovenai import accounts, auth, sessions
from ovenai.auth import Actor
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.errors import InvalidInput
from ovenai.models import Role

users_app = typer.Typer(help="People who sign in.")
tokens_app = typer.Typer(help="API tokens.")
T = TypeVar("T")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
OPERATOR = Actor(user_id=None, role=Role.ADMIN, email="cli")


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
        user = await auth.create_user(
            db, email=email, role=role, password=secret, display_name=name
        )
        await accounts.audit_change(db, OPERATOR, "user_created", user.id, {"role": role.value})

    common.with_db(common.settings(), work)
    typer.echo(f"created {role.value} {email.strip().lower()}")


@users_app.command("list")
def users_list() -> None:
    """Every user: e-mail, role, state and live dashboard sessions."""

    async def work(db: Database) -> list[accounts.Account]:
        return await accounts.list_accounts(db, actor=OPERATOR)

    for user in common.with_db(common.settings(), work):
        state = _state(user)
        typer.echo(f"{user.email} {user.role.value} {state} sessions={user.sessions}")


def _state(user: accounts.Account) -> str:
    if not user.active:
        return "disabled"
    if user.locked:
        return "locked"
    return "active" if user.has_password else "api-only"


def _by_email(email: str, change: Callable[[Database, str], Awaitable[T]]) -> T:
    """Run a change on the user with this e-mail."""

    async def work(db: Database) -> T:
        return await change(db, await accounts.user_id_for(db, email=email))

    return common.with_db(common.settings(), work)


@users_app.command("disable")
def users_disable(email: str) -> None:
    """Disable a user: their dashboard sessions end and their API tokens stop, at once."""

    async def change(db: Database, user_id: str) -> accounts.Account:
        return await accounts.set_active(db, actor=OPERATOR, user_id=user_id, active=False)

    _by_email(email, change)
    typer.echo(f"disabled {email.strip().lower()}")


@users_app.command("enable")
def users_enable(email: str) -> None:
    """Enable a disabled user again."""

    async def change(db: Database, user_id: str) -> accounts.Account:
        return await accounts.set_active(db, actor=OPERATOR, user_id=user_id, active=True)

    _by_email(email, change)
    typer.echo(f"enabled {email.strip().lower()}")


@users_app.command("reset-password")
def users_reset_password(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (asked for on a terminal): their sessions end, their lock lifts."""
    try:
        secret = _password(None, password_stdin=password_stdin, no_password=False)
    except InvalidInput as exc:
        raise common.fail(exc) from None
    assert secret is not None

    async def change(db: Database, user_id: str) -> int:
        return await accounts.reset_password(db, actor=OPERATOR, user_id=user_id, password=secret)

    ended = _by_email(email, change)
    typer.echo(f"password set for {email.strip().lower()}; {ended} sessions ended")


@users_app.command("unlock")
def users_unlock(email: str) -> None:
    """Lift a user's sign-in lock (failed attempts from every address are forgotten)."""

    async def change(db: Database, user_id: str) -> int:
        return await accounts.unlock(db, actor=OPERATOR, user_id=user_id)

    cleared = _by_email(email, change)
    typer.echo(f"unlocked {email.strip().lower()} ({cleared} counts cleared)")


@users_app.command("sessions")
def users_sessions(
    email: str,
    end: Annotated[
        bool, typer.Option("--end", help="End every session of the user (sign out everywhere).")
    ] = False,
) -> None:
    """A user's live dashboard sessions; with --end, end them all."""

    async def listing(db: Database, user_id: str) -> list[sessions.SessionInfo]:
        return await accounts.sessions_of(db, actor=OPERATOR, user_id=user_id)

    async def ending(db: Database, user_id: str) -> int:
        return await accounts.sign_out_everywhere(db, actor=OPERATOR, user_id=user_id)

    if end:
        typer.echo(f"{_by_email(email, ending)} sessions ended")
        return
    for item in _by_email(email, listing):
        typer.echo(
            f"{item.id} since {item.created_at:%Y-%m-%d %H:%M} "
            f"seen {item.last_seen_at:%Y-%m-%d %H:%M} UTC {item.address} {item.user_agent}"
        )


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
