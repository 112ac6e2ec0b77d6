"""`ovenai keys ...`: master keys for data at rest (generate, rotate, status, retire)."""

from __future__ import annotations

from typing import Annotated

import typer

from ovenai import key_rotation
from ovenai.cli import common
from ovenai.cli.root import app
from ovenai.db import Database
from ovenai.keystore import generate_master_key

keys_app = typer.Typer(help="Master keys for data at rest.")
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new master key entry to put first in OVENAI_ENCRYPTION_KEYS."""
    entry = generate_master_key()
    typer.echo(entry)
    typer.echo(
        "Prepend it to OVENAI_ENCRYPTION_KEYS (newest first), restart, then run "
        "`ovenai keys rotate`.",
        err=True,
    )


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Keys per batch.")] = 500,
) -> None:
    """Re-wrap every data key under the newest master key (resumable, runs while serving)."""

    async def work(db: Database) -> int:
        return await key_rotation.rotate_all(
            db,
            batch_size=batch_size,
            progress=lambda done, left: typer.echo(f"re-wrapped {done}, {left} left"),
        )

    total = common.with_db(common.settings(), work)
    typer.echo(f"rotation complete: {total} data keys re-wrapped")


@keys_app.command("status")
def keys_status() -> None:
    """How many data keys each master key wraps, and the newest key's age."""

    async def work(db: Database) -> key_rotation.KeyStatus:
        return await key_rotation.status(db)

    report = common.with_db(common.settings(), work)
    for key_id in report.ring:
        typer.echo(f"{key_id}: wraps {report.usage.get(key_id, 0)} data keys")
    for key_id, count in report.unknown.items():
        typer.echo(f"{key_id}: wraps {count} data keys but is NOT in the ring")
    if report.newest_age_days is not None:
        typer.echo(f"newest key in use for {report.newest_age_days} days")


@keys_app.command("retire")
def keys_retire(key_id: str) -> None:
    """Check that a master key wraps nothing, so it can be removed from the ring."""

    async def work(db: Database) -> None:
        await key_rotation.check_retirable(db, key_id)

    common.with_db(common.settings(), work)
    typer.echo(f"{key_id} wraps no data key: remove it from OVENAI_ENCRYPTION_KEYS")


@keys_app.command("vacuum")
def keys_vacuum() -> None:
    """Rewrite the key store so destroyed keys leave no bytes in its files (after erasures)."""

    async def work(db: Database) -> None:
        await db.vault.vacuum()

    common.with_db(common.settings(), work)
    typer.echo("key store rewritten: no destroyed data key is left in its files")
