"""Sealed columns: one declaration per table, the same AAD as ever, typos and moves refused."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from ovenai import crypto, sealing
from ovenai.columns import new_id
from ovenai.db import Database
from ovenai.errors import CryptoError
from ovenai.models import Base, Lead, Meeting, Message
from ovenai.sealing import (
    CONSENT_EVENTS,
    LEADS,
    MEETINGS,
    MESSAGES,
    SEALED_TABLES,
    WEBHOOK_EVENTS,
    LeadColumn,
    SealedTable,
    name_index,
    search_index,
    username_index,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
TEXT = "מרים ברק 🏡"

# What existing ciphertext was sealed with before sealing.py: the table names and columns
# typed by hand at each call site. Each must still open, so these stay spelt out here.
OLD_SCHEME = [
    *[(LEADS, "leads", column) for column in ("name", "phone", "bsuid", "wa_id")],
    *[(LEADS, "leads", column) for column in ("username", "profile_name", "notes")],
    *[(MESSAGES, "messages", column) for column in ("text", "payload", "template_params")],
    (MEETINGS, "meetings", "notes"),
    (CONSENT_EVENTS, "consent_events", "evidence"),
]


def test_the_aad_layout_is_unchanged() -> None:
    expected = (
        b"ovenai.aad.v1"
        + b"\x00\x00\x00\x05leads"
        + b"\x00\x00\x00\x06lead-1"
        + b"\x00\x00\x00\x04name"
    )
    assert crypto.aad("leads", "lead-1", "name") == expected


@pytest.mark.parametrize(("table", "old_name", "column"), OLD_SCHEME)
def test_a_value_sealed_by_the_old_scheme_opens(
    table: SealedTable[Any, Any], old_name: str, column: str
) -> None:
    row_id = new_id()
    blob = crypto.encrypt_text(KEY, TEXT, aad=crypto.aad(old_name, row_id, column))
    assert table.name == old_name
    assert table.cipher(KEY, row_id).open(column, blob) == TEXT


@pytest.mark.parametrize(("table", "old_name", "column"), OLD_SCHEME)
def test_a_value_sealed_now_opens_by_the_old_scheme(
    table: SealedTable[Any, Any], old_name: str, column: str
) -> None:
    row_id = new_id()
    blob = table.cipher(KEY, row_id).seal(column, TEXT)
    assert blob is not None
    assert crypto.decrypt_text(KEY, blob, aad=crypto.aad(old_name, row_id, column)) == TEXT


def test_a_webhook_body_sealed_by_the_old_scheme_opens_and_reseals_alike() -> None:
    event_id, raw = new_id(), b'{"entry": []}'
    old_aad = crypto.aad("webhook_events", event_id, "body")
    cipher = WEBHOOK_EVENTS.cipher(KEY, event_id)
    assert cipher.open_bytes("body", crypto.encrypt(KEY, raw, aad=old_aad)) == raw
    assert crypto.decrypt(KEY, cipher.seal_bytes("body", raw), aad=old_aad) == raw
    assert WEBHOOK_EVENTS.key_scope == "webhook"


def test_an_orm_row_is_sealed_into_its_enc_attributes_and_opened_back() -> None:
    lead = Lead(id=new_id())
    LEADS.seal_into(lead, KEY, {"name": TEXT, "phone": "+972526667777", "notes": None})
    assert lead.name_enc is not None and TEXT.encode() not in lead.name_enc
    assert lead.notes_enc is None and lead.bsuid_enc is None
    assert LEADS.open_from(lead, KEY, "phone") == "+972526667777"
    opened = LEADS.open_all(lead, KEY)
    assert opened == {
        "name": TEXT,
        "phone": "+972526667777",
        "bsuid": None,
        "wa_id": None,
        "username": None,
        "profile_name": None,
        "notes": None,
        "email": None,
    }


def test_a_core_row_opens_through_a_bound_cipher() -> None:
    message = Message(id=new_id())
    MESSAGES.seal_into(message, KEY, {"text": TEXT, "payload": "{}"})
    cipher = MESSAGES.cipher(KEY, message.id)  # as the outbox claim reads plain rows
    assert cipher.open("text", message.text_enc) == TEXT
    assert cipher.open("payload", message.payload_enc) == "{}"
    assert cipher.open("template_params", None) is None


@pytest.mark.parametrize("column", ["nmae", "evidence", "name_enc", ""])
def test_a_column_not_declared_for_the_table_is_refused(column: Any) -> None:
    lead = Lead(id=new_id())
    cipher = LEADS.cipher(KEY, lead.id)
    with pytest.raises(ValueError, match="leads has no sealed column"):
        cipher.seal(column, TEXT)
    with pytest.raises(ValueError, match="leads has no sealed column"):
        cipher.open(column, None)  # refused even when nothing was sealed
    with pytest.raises(ValueError, match="leads has no sealed column"):
        LEADS.open_from(lead, KEY, column)
    with pytest.raises(ValueError, match="leads has no sealed column"):
        LEADS.seal_into(lead, KEY, {column: TEXT})


def test_rows_sealed_under_one_key_share_its_cipher() -> None:
    shared = sealing.key_cipher(KEY)  # a lead's name opened and its message sealed with it
    lead_id, message_id = new_id(), new_id()
    name = LEADS.cipher(KEY, lead_id).seal("name", TEXT)
    assert LEADS.cipher(shared, lead_id).open("name", name) == TEXT
    sealed = MESSAGES.sealed(shared, message_id, {"text": TEXT})
    assert MESSAGES.cipher(KEY, message_id).open("text", sealed["text_enc"]) == TEXT
    with pytest.raises(CryptoError):  # still bound to its row
        MESSAGES.cipher(shared, new_id()).open("text", sealed["text_enc"])


def test_a_key_of_the_wrong_size_is_refused_when_its_cipher_is_made() -> None:
    with pytest.raises(CryptoError, match="^failed to seal or open: .* 32 bytes, not 16"):
        LEADS.cipher(KEY[:16], new_id())
    with pytest.raises(CryptoError, match="^failed to seal or open: .* 32 bytes, not 16"):
        sealing.key_cipher(KEY[:16])


def test_a_value_moved_to_another_table_row_column_or_key_does_not_open() -> None:
    row_id = new_id()
    blob = LEADS.cipher(KEY, row_id).seal("notes", TEXT)
    assert LEADS.cipher(KEY, row_id).open("notes", blob) == TEXT
    moves = [
        lambda: MEETINGS.cipher(KEY, row_id).open("notes", blob),  # another table
        lambda: LEADS.cipher(KEY, new_id()).open("notes", blob),  # another row
        lambda: LEADS.cipher(KEY, row_id).open("name", blob),  # another column
        lambda: LEADS.cipher(OTHER_KEY, row_id).open("notes", blob),  # another lead's key
    ]
    for move in moves:
        with pytest.raises(CryptoError):
            move()


def test_a_declaration_must_match_the_models_enc_columns() -> None:
    with pytest.raises(TypeError, match="leads"):
        SealedTable[Lead, Any](Lead, ("name", "phone"), key_scope="lead")  # some left out
    with pytest.raises(TypeError, match="meetings"):
        SealedTable[Meeting, Any](Meeting, ("notes", "agenda"), key_scope="lead")  # not there
    with pytest.raises(TypeError, match="meetings"):
        SealedTable[Meeting, Any](Meeting, ("notes", "notes"), key_scope="lead")


def test_every_enc_column_of_the_schema_is_declared() -> None:
    sealed_tables = {
        table.name
        for table in Base.metadata.tables.values()
        if any(column.name.endswith("_enc") for column in table.columns)
    }
    assert {table.name for table in SEALED_TABLES} == sealed_tables


def test_blanks_clear_every_sealed_column() -> None:
    assert MESSAGES.blanks() == {"text_enc": None, "payload_enc": None, "template_params_enc": None}
    assert set(LEADS.blanks()) == {f"{column}_enc" for column in LEADS.columns}


def test_a_cipher_never_shows_its_key() -> None:
    assert KEY.hex() not in repr(LEADS.cipher(KEY, "lead-1"))
    assert repr(KEY) not in repr(LEADS.cipher(KEY, "lead-1"))


@pytest.mark.anyio
async def test_name_indexes_are_the_blind_indexes_stored_before(db: Database) -> None:
    vault = db.vault
    stored = name_index(vault, "Miriam Barak")
    before = {vault.index("name_token", token) for token in crypto.name_tokens("Miriam Barak")}
    assert stored == before
    assert search_index(vault, "mir bar") <= stored
    assert not search_index(vault, "mira") <= stored
    assert name_index(vault, None) == set()


def test_a_table_declared_again_derives_the_same_as_the_one_declared_at_import() -> None:
    # Each declaration derives its name, stored columns and associated data when made.
    again = SealedTable[Lead, LeadColumn](Lead, get_args(LeadColumn), key_scope="lead")
    assert again.name == "leads" == LEADS.name
    assert dict(again.stored) == {c: f"{c}_enc" for c in get_args(LeadColumn)}
    assert again.aad_head == crypto.aad_head("leads") == LEADS.aad_head
    assert dict(again.aad_tails) == {c: crypto.aad_part(c) for c in get_args(LeadColumn)}
    key = bytes(32)
    sealed = again.cipher(key, "row-1").seal("name", "דנה")
    assert LEADS.cipher(key, "row-1").open("name", sealed) == "דנה"


def test_uploads_and_file_chunks_open_only_where_they_were_sealed() -> None:
    key = bytes(range(32))
    blob = sealing.seal_upload(key, "upload-1", b"a,b\n")
    assert sealing.open_upload(key, "upload-1", blob) == b"a,b\n"
    with pytest.raises(CryptoError):
        sealing.open_upload(key, "upload-2", blob)


def test_a_file_chunk_s_aad_layout_is_unchanged() -> None:
    """Lead files on disk were sealed chunk by chunk under this layout (the media row, the
    stream, the chunk's place as 8 bytes big-endian, 1 for the last chunk and 0 before it):
    every chunk sealed so far must still open, and a chunk sealed now must match it."""
    head = (
        b"ovenai.aad.v1"
        + b"\x00\x00\x00\x0bmedia_files"
        + b"\x00\x00\x00\x05row-1"
        + b"\x00\x00\x00\x07content"
    )
    for index, last, flag in ((0, False, b"\x00"), (1, True, b"\x01")):
        aad = head + index.to_bytes(8, "big") + flag
        sealed_before = crypto.encrypt(KEY, b"chunk", aad=aad)
        assert sealing.open_file_chunk(KEY, "row-1", "content", index, last, sealed_before) == (
            b"chunk"
        )
        sealed_now = sealing.seal_file_chunk(KEY, "row-1", "content", index, last, b"chunk")
        assert crypto.decrypt(KEY, sealed_now, aad=aad) == b"chunk"


@pytest.mark.anyio
async def test_a_username_is_indexed_in_the_form_people_type(db: Database) -> None:
    """The index stored for WhatsApp's "@Maya.TLV" is the one of "maya.tlv" (kind
    "username"): a look-up typed either way, spaces around it, finds it."""
    stored = db.vault.index("username", "maya.tlv")
    for typed in ("maya.tlv", "@Maya.TLV", "  @MAYA.tlv "):
        assert username_index(db.vault, typed) == stored
    assert username_index(db.vault, "@maya.tlv2") != stored
