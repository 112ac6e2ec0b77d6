"""Backups: the database and its key store restored together into new databases read the
conversations back; a person erased after the backup comes back with it, and replaying the
erasure journal erases them again (their webhook bodies too), leaving everyone else."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from ingest.conftest import Harness, text_body
from ovenai import backups, conversations, dialects, erasure_journal, privacy
from ovenai.auth import Actor
from ovenai.db import Database, open_database
from ovenai.errors import CryptoError, Gone, InvalidInput
from ovenai.models import Lead, WebhookEvent
from ovenai.sealing import WEBHOOK_EVENTS
from ovenai.settings import Settings, load_settings
from support.migrations import PG_ADMIN_DSN

pytestmark = pytest.mark.anyio
SYSTEM = Actor.system()


@pytest.fixture
def fresh(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A new, empty data database and key store of the session's kind."""
    if dialects.of_url(settings.database_url) == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}", f"sqlite:///{tmp_path / 'restored-keys.db'}"
        return
    name = f"ovenai_restore_{secrets.token_hex(4)}"
    names = (name, f"{name}_keys")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for each in names:
            admin.execute(f'CREATE DATABASE "{each}"')
    base = "postgresql+psycopg://postgres@127.0.0.1:5432"
    yield f"{base}/{name}", f"{base}/{name}_keys"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for each in names:
            admin.execute(f'DROP DATABASE "{each}" WITH (FORCE)')


def _restored_settings(settings: Settings, urls: tuple[str, str], tmp_path: Path) -> Settings:
    """The same master keys (kept apart from every backup), the new databases."""
    return load_settings(
        database_url=urls[0],
        keystore_url=urls[1],
        encryption_keys=settings.secret("encryption_keys"),
        secret_key="restored",
        data_dir=tmp_path / "restored-var",
    )


async def _texts(db: Database, lead_id: str) -> list[str | None]:
    return [m.text for m in await conversations.conversation(db, actor=SYSTEM, lead_id=lead_id)]


async def _readable_bodies(db: Database) -> list[bytes]:
    """Every stored webhook body the databases can still open."""
    async with db.session() as session:
        rows = list(await session.scalars(select(WebhookEvent)))
    opened = []
    for event in rows:
        if event.body_enc is None:
            continue
        try:
            key = await db.vault.key(WEBHOOK_EVENTS.key_scope, event.key_bucket)
        except CryptoError:
            continue
        body = WEBHOOK_EVENTS.cipher(key, event.id).open_bytes("body", event.body_enc)
        if body is not None:
            opened.append(body)
    return opened


async def test_a_backup_restored_reads_back_and_an_erasure_made_since_holds_after_a_replay(
    db: Database, clean_db: Settings, fresh: tuple[str, str], tmp_path: Path
) -> None:
    db.erasure_journal = tmp_path / "erasures.journal"
    harness = Harness(db)
    now = int(time.time())
    await harness.deliver(
        text_body("wamid.backup.noa", "שלום, אני נועה", wa_id="972521230001", ts=now)
    )
    await harness.deliver(
        text_body(
            "wamid.backup.dan",
            "hello, Dan here",
            wa_id="972521230002",
            user_id="IL.5550001112223339999",
            ts=now,
        )
    )
    noa, dan = await harness.lead(wa_id="972521230001"), await harness.lead(wa_id="972521230002")
    assert noa is not None and dan is not None

    taken = backups.take(clean_db, tmp_path / "backup")
    assert sorted(taken.files) == sorted(
        f"{part}.{'sqlite' if dialects.of_url(clean_db.database_url) == 'sqlite' else 'pgdump'}"
        for part in ("data", "keys")
    )
    await privacy.erase_lead(db, actor=SYSTEM, lead_id=noa.id)  # after the backup
    assert erasure_journal.read(db.erasure_journal) == [noa.id]

    target = _restored_settings(clean_db, fresh, tmp_path)
    backups.restore(target, taken.folder)
    restored = open_database(target)
    await restored.start()
    try:
        assert await _texts(restored, dan.id) == ["hello, Dan here"]
        # The backup predates the erasure: Noa is back, readable, webhook body and all.
        assert await _texts(restored, noa.id) == ["שלום, אני נועה"]
        assert any(b"wamid.backup.noa" in body for body in await _readable_bodies(restored))

        replay = await backups.replay_erasures(restored, db.erasure_journal)

        assert (replay.erased, replay.already, replay.absent) == ([noa.id], [], [])
        with pytest.raises((Gone, CryptoError)):
            await _texts(restored, noa.id)
        with pytest.raises(CryptoError):
            await restored.vault.key("lead", noa.id)
        async with restored.session() as session:
            erased = await session.scalar(select(Lead.erased_at).where(Lead.id == noa.id))
        assert erased is not None
        bodies = await _readable_bodies(restored)
        assert not any(b"wamid.backup.noa" in body for body in bodies)
        assert any(b"wamid.backup.dan" in body for body in bodies)
        assert await _texts(restored, dan.id) == ["hello, Dan here"]  # nobody else touched
        again = await backups.replay_erasures(restored, db.erasure_journal)
        assert (again.erased, again.already) == ([], [noa.id])
    finally:
        await restored.dispose()


async def test_a_restore_never_overwrites_a_database_that_holds_data(
    db: Database, clean_db: Settings, tmp_path: Path
) -> None:
    taken = backups.take(clean_db, tmp_path / "backup")
    with pytest.raises(InvalidInput, match="not empty"):
        backups.restore(clean_db, taken.folder)  # the live databases themselves
    with pytest.raises(InvalidInput, match="not empty"):
        backups.take(clean_db, taken.folder)  # a backup goes into a folder of its own


def test_the_journal_is_appended_one_line_per_erasure_and_read_back_once_each(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j" / "erasures.journal"
    at = privacy.utcnow()
    for lead_id in ("a", "b", "a"):
        erasure_journal.record(journal, lead_id, at)
    assert erasure_journal.read(journal) == ["a", "b"]
    assert journal.stat().st_mode & 0o777 == 0o600
    journal.write_text(journal.read_text() + "not json\n")
    with pytest.raises(InvalidInput, match="line 4"):
        erasure_journal.read(journal)
