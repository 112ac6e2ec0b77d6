"""The key store: data keys created in batches, kept across processes, destroyed for good."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, make_url
from sqlalchemy.exc import IntegrityError

from ovenai import crypto
from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.engines import BUSY_TIMEOUT_S
from ovenai.errors import CryptoError
from ovenai.keystore import BLIND_INDEX, Vault

pytestmark = pytest.mark.anyio


def fresh_vault(db: Database) -> Vault:
    """Another process's view of the same key store (nothing cached)."""
    return Vault(db.vault.ring, db.vault.url)


async def test_many_keys_are_created_at_once_and_read_back_by_another_process(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(300)]
    made = await db.vault.keys("lead", ids, create=True)
    other = fresh_vault(db)
    try:
        assert await other.keys("lead", ids) == made
    finally:
        await other.dispose()
    assert len(set(made.values())) == len(ids)  # a key of its own for every lead


async def test_a_key_another_process_created_meanwhile_is_used_not_replaced(
    db: Database,
) -> None:
    raced, fresh = new_id(), new_id()
    other = fresh_vault(db)
    try:
        theirs = await other.key("lead", raced, create=True)
    finally:
        await other.dispose()
    db.vault.forget_cache()
    made = await db.vault._create("lead", [raced, fresh])  # as if both were missing here
    assert made[raced] == theirs
    assert await db.vault.key("lead", fresh) == made[fresh]


async def test_missing_keys_are_not_created_unless_asked(db: Database) -> None:
    with pytest.raises(CryptoError, match="no longer exists"):
        await db.vault.keys("lead", [new_id()])


def statements_on(vault: Vault) -> tuple[list[str], Callable[[], None]]:
    """The statements reading or writing keys from now on (their first word; transaction
    control left out), and how to stop recording."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        verb = statement.split()[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            seen.append(verb)

    event.listen(vault.engine.sync_engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(vault.engine.sync_engine, "before_cursor_execute", record)


async def test_new_leads_keys_are_created_in_one_statement_without_a_lookup(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(50)]
    seen, stop = statements_on(db.vault)
    try:
        made = await db.vault.new_lead_keys(ids)
        one = new_id()
        single = await db.vault.new_lead_key(one)
    finally:
        stop()
    assert seen == ["INSERT", "INSERT"]  # a fresh lead id has no key to look up
    other = fresh_vault(db)
    try:
        assert await other.lead_keys([*ids, one]) == made | {one: single}
    finally:
        await other.dispose()
    assert len(set(made.values())) == len(ids)


async def test_a_batch_of_lead_keys_is_fetched_with_one_query_and_erasure_still_tells(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(40)]
    made = await db.vault.new_lead_keys(ids)
    other = fresh_vault(db)
    try:
        seen, stop = statements_on(other)
        try:
            assert await other.lead_keys(ids) == made
            assert await other.lead_keys(ids[:10]) == {k: made[k] for k in ids[:10]}  # cached
        finally:
            stop()
        assert seen == ["SELECT"]
        await db.vault.destroy("lead", ids[3])
        other.forget_cache()
        with pytest.raises(CryptoError, match="no longer exists"):
            await other.lead_keys(ids)  # a batch holding an erased lead's key is refused
        assert await other.lead_keys(ids[4:]) == {k: made[k] for k in ids[4:]}
    finally:
        await other.dispose()


async def test_keys_sealed_with_before_they_are_stored_are_stored_or_the_task_fails(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(5)]
    made, storing = db.vault.start_new_lead_keys(ids)
    await storing
    other = fresh_vault(db)
    try:
        assert await other.lead_keys(ids) == made
    finally:
        await other.dispose()
    _, again = db.vault.start_new_lead_keys([ids[0]])  # a key under that id exists already
    with pytest.raises(IntegrityError):
        await again  # never swapped for the stored one: data may be sealed with the new key
    assert await db.vault.lead_keys([ids[0]]) == {ids[0]: made[ids[0]]}


async def test_the_surviving_keys_of_a_batch_leave_out_the_erased_in_one_query(
    db: Database,
) -> None:
    ids = [new_id() for _ in range(20)]
    made = await db.vault.new_lead_keys(ids)
    await db.vault.destroy("lead", ids[3])
    other = fresh_vault(db)
    try:
        seen, stop = statements_on(other)
        try:
            found = await other.surviving_lead_keys(ids)
        finally:
            stop()
        assert found == {k: made[k] for k in ids if k != ids[3]}
        assert seen == ["SELECT"]  # one query, and nothing made for the erased lead
        assert await other.surviving_lead_keys([ids[3]]) == {}
    finally:
        await other.dispose()


async def test_a_key_id_in_one_scope_is_not_the_same_id_in_another(db: Database) -> None:
    key_id = f"shared-{new_id()}"
    lead_key = await db.vault.key("lead", key_id, create=True)
    webhook_key = await db.vault.key("webhook", key_id, create=True)
    assert lead_key != webhook_key
    other = fresh_vault(db)
    await other.start()
    try:
        assert await other.key("webhook", key_id) == webhook_key  # read by its scope
        await other.destroy("lead", key_id)
        other.forget_cache()
        assert await other.key("webhook", key_id) == webhook_key  # only the lead's went
        with pytest.raises(CryptoError, match=f"the lead data key {key_id} no longer exists"):
            await other.key("lead", key_id)
    finally:
        await other.dispose()


async def test_a_destroyed_key_is_gone_from_the_cache_too(db: Database) -> None:
    key_id = new_id()
    await db.vault.key("lead", key_id, create=True)
    await db.vault.destroy("lead", key_id)
    with pytest.raises(CryptoError):
        await db.vault.key("lead", key_id)
    await db.vault.destroy("lead", key_id)  # twice: nothing left to forget, no error


async def test_the_index_key_is_the_system_scope_s_and_a_vault_not_started_says_so(
    db: Database,
) -> None:
    unstarted = fresh_vault(db)
    with pytest.raises(CryptoError) as refused:
        unstarted.index("phone", "+972501234567")
    assert refused.value.message == "the key store was not started"
    index_key = await db.vault.key("system", BLIND_INDEX)
    assert db.vault.index("phone", "x") == crypto.blind_index(index_key, "phone", "x")


async def test_new_lead_keys_are_stored_by_a_named_task_and_cached_as_lead_keys(
    db: Database,
) -> None:
    lead_id = new_id()
    made, task = db.vault.start_new_lead_keys([lead_id])
    assert task.get_name() == "new lead keys"
    await task
    # Cached under the lead scope: both reads come from the cache, with no query.
    seen, stop = statements_on(db.vault)
    try:
        assert await db.vault.lead_keys([lead_id]) == made
        assert await db.vault.surviving_lead_keys([lead_id]) == made
    finally:
        stop()
    assert seen == []


async def test_keys_are_read_while_another_process_holds_the_write_lock(db: Database) -> None:
    """SQLite: a key read never queues for the write lock (pages read keys while the worker
    or an import stores new ones); before, it waited up to the busy timeout and failed with
    "database is locked"."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL readers never wait for writers")
    lead_id = new_id()
    made = await db.vault.key("lead", lead_id, create=True)
    writer = sqlite3.connect(str(make_url(db.vault.url).database), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    other = fresh_vault(db)
    try:
        async with asyncio.timeout(BUSY_TIMEOUT_S / 2):
            assert await other.key("lead", lead_id) == made
            assert sum((await other.usage()).values()) >= 2  # the blind-index key and this
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        await other.dispose()


def _sqlite_file(vault: Vault) -> Path:
    return Path(str(make_url(vault.url).database))


async def _one(vault: Vault, statement: str) -> Any:
    async with vault.engine.connect() as conn:
        return (await conn.exec_driver_sql(statement)).scalar_one()


async def test_the_vacuum_rewrites_the_key_store_and_leaves_its_wal_empty(db: Database) -> None:
    """`ovenai keys vacuum`: SQLite's file is rebuilt without the pages destroyed keys freed,
    its WAL emptied; PostgreSQL's table is written anew (VACUUM FULL: a new file)."""
    kept_id = new_id()
    kept = await db.vault.key("lead", kept_id, create=True)
    scope = f"gone-{secrets.token_hex(4)}"
    await db.vault.keys(scope, [new_id() for _ in range(400)], create=True)
    assert await db.vault.destroy_before(scope, "~") == 400
    if db.dialect == "sqlite":
        assert await _one(db.vault, "PRAGMA freelist_count") > 0  # the destroyed keys' pages
        await db.vault.vacuum()
        assert await _one(db.vault, "PRAGMA freelist_count") == 0
        wal = _sqlite_file(db.vault).with_name(_sqlite_file(db.vault).name + "-wal")
        assert wal.stat().st_size == 0
    else:
        file_of = "SELECT pg_relation_filenode('data_keys')"
        before = await _one(db.vault, file_of)
        await db.vault.vacuum()
        assert await _one(db.vault, file_of) != before
    other = fresh_vault(db)
    try:
        assert await other.key("lead", kept_id) == kept  # the live key is still there
    finally:
        await other.dispose()


async def test_a_wal_an_old_snapshot_still_reads_is_logged_with_the_way_out(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite: a destroy whose WAL cannot be emptied (another connection still reads the
    snapshot from before it) says so, and names the command that empties it later."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's WAL; PostgreSQL's dead rows go by `ovenai keys vacuum`")
    key_id = new_id()
    await db.vault.key("lead", key_id, create=True)
    other = fresh_vault(db)

    def wait_briefly(dbapi_connection: Any, _record: Any) -> None:  # not 10 s for the reader
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=200")
        cursor.close()

    event.listen(other.engine.sync_engine, "connect", wait_briefly)
    reader = sqlite3.connect(str(_sqlite_file(db.vault)), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM data_keys").fetchall()  # holds its snapshot
        with caplog.at_level(logging.WARNING, logger="ovenai.keystore"):
            await other.destroy("lead", key_id)
        assert [r.getMessage() for r in caplog.records if r.name == "ovenai.keystore"] == [
            "key store WAL still in use: run `ovenai keys vacuum` to empty it"
        ]
        reader.execute("ROLLBACK")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ovenai.keystore"):
            await other.vacuum()  # the way out, once the reader is done
            await other.destroy("lead", new_id())  # nothing read meanwhile: nothing said
        assert not [r for r in caplog.records if r.name == "ovenai.keystore"]
        wal = _sqlite_file(db.vault).with_name(_sqlite_file(db.vault).name + "-wal")
        assert wal.stat().st_size == 0
        with pytest.raises(CryptoError, match="no longer exists"):
            await other.key("lead", key_id)
    finally:
        reader.close()
        await other.dispose()


async def test_a_batch_without_new_leads_asks_nothing_of_the_key_store(db: Database) -> None:
    """Ingestion asks for each batch's new leads' keys, most often none: no statement then,
    and on SQLite no wait for the write lock another process holds."""
    every: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        every.append(statement)

    event.listen(db.vault.engine.sync_engine, "before_cursor_execute", record)
    writer = None
    if db.dialect == "sqlite":
        writer = sqlite3.connect(str(_sqlite_file(db.vault)), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
    try:
        async with asyncio.timeout(BUSY_TIMEOUT_S / 2):
            assert await db.vault.new_lead_keys([]) == {}
    finally:
        event.remove(db.vault.engine.sync_engine, "before_cursor_execute", record)
        if writer is not None:
            writer.execute("ROLLBACK")
            writer.close()
    assert every == []


async def test_keys_destroyed_by_age_leave_the_cache_and_the_wal_the_rest_stay_cached(
    db: Database,
) -> None:
    scope = f"hours-{secrets.token_hex(4)}"
    hours = ["2026120700", "2026120701", "2026120702"]
    kept = await db.vault.keys(scope, hours, create=True)
    lead_id = new_id()
    lead_key = await db.vault.key("lead", lead_id, create=True)
    assert await db.vault.destroy_before(scope, hours[1]) == 1
    with pytest.raises(CryptoError, match="no longer exists"):
        await db.vault.key(scope, hours[0])  # not served from this process's cache either
    seen, stop = statements_on(db.vault)
    try:  # the cutoff's hour, the later one and another scope's key: still cached
        assert await db.vault.keys(scope, hours[1:]) == {h: kept[h] for h in hours[1:]}
        assert await db.vault.key("lead", lead_id) == lead_key
    finally:
        stop()
    assert seen == []
    if db.dialect == "sqlite":
        wal = _sqlite_file(db.vault).with_name(_sqlite_file(db.vault).name + "-wal")
        assert wal.stat().st_size == 0  # the destroyed key's copies in the WAL are gone


async def test_nothing_to_destroy_by_age_waits_for_no_reader(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Retention runs every hour and most runs destroy nothing: then the WAL is left alone,
    so an old snapshot still read elsewhere holds nothing up and nothing is logged."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's WAL")
    scope = f"hours-{secrets.token_hex(4)}"
    await db.vault.key(scope, "2026120700", create=True)
    reader = sqlite3.connect(str(_sqlite_file(db.vault)), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM data_keys").fetchall()
        with caplog.at_level(logging.WARNING, logger="ovenai.keystore"):
            async with asyncio.timeout(BUSY_TIMEOUT_S / 2):
                assert await db.vault.destroy_before(scope, "2026120700") == 0
                assert await db.vault.destroy_before(scope, "2026120701", dry_run=True) == 1
        assert not [r for r in caplog.records if r.name == "ovenai.keystore"]
    finally:
        reader.close()
    db.vault.forget_cache()
    assert await db.vault.key(scope, "2026120700")  # the dry run destroyed nothing


async def test_the_cache_keeps_the_keys_loaded_last_up_to_its_size(db: Database) -> None:
    ids = [new_id() for _ in range(3)]
    made = await db.vault.keys("lead", ids, create=True)
    small = Vault(db.vault.ring, db.vault.url, cache_size=2)
    try:
        for key_id in ids:  # loaded one by one: the first is the oldest in the cache
            assert await small.key("lead", key_id) == made[key_id]
        seen, stop = statements_on(small)
        try:
            assert await small.keys("lead", ids[1:]) == {k: made[k] for k in ids[1:]}
            assert seen == []  # the two most recent are cached
            assert await small.key("lead", ids[0]) == made[ids[0]]
            assert seen == ["SELECT"]  # the oldest was dropped for them
        finally:
            stop()
    finally:
        await small.dispose()
