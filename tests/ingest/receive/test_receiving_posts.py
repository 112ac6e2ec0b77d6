"""What Meta's POSTs get: 200 only for a verified body that is stored; else 401/413/400."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from ovenai.conversations import open_message
from ovenai.db import open_database
from ovenai.endpoints import WEBHOOK_PATH as PATH
from ovenai.engines import sync_url
from ovenai.ingest.receive.intake import MAX_BODY_BYTES
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.leads import open_leads
from ovenai.models import Lead, Message, WebhookEvent

SECRET = "test-app-secret"


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("ovenai_webhook_rejected_total", {"reason": reason}) or 0.0


def stored_rows(settings) -> list[WebhookEvent]:
    engine = create_engine(sync_url(settings.database_url))
    with Session(engine) as session:
        rows = list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.received_at)))
    engine.dispose()
    return rows


def wait_processed(settings, count: int) -> list[WebhookEvent]:
    deadline = time.monotonic() + 10
    while True:
        rows = stored_rows(settings)
        if len([r for r in rows if r.status == "processed"]) >= count:
            return rows
        assert time.monotonic() < deadline, [(r.status, r.error) for r in rows]
        time.sleep(0.05)


def post(meta, raw: bytes, signature: str | None = "sign") -> int:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(raw, SECRET)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return meta.post(PATH, content=raw, headers=headers).status_code


def test_a_hebrew_and_emoji_body_signed_over_its_exact_bytes_is_stored_and_applied(
    meta, clean_db, load_payload
) -> None:
    raw = load_payload("text_hebrew_emoji.json")
    # Escaped as Meta sends it: Hebrew as \\uXXXX, the emoji as a surrogate pair, "/" as "\\/".
    assert b"\\u05e9\\u05dc\\u05d5\\u05dd" in raw and b"\\ud83d\\ude00" in raw and b"\\/" in raw
    answer = meta.post(PATH, content=raw, headers={SIGNATURE_HEADER: sign(raw, SECRET)})
    assert (answer.status_code, answer.text) == (200, "ok")
    (row,) = wait_processed(clean_db, 1)
    assert raw not in (row.body_enc or b"") and row.body_size == len(raw)
    assert json.loads(row.headers or "{}")[SIGNATURE_HEADER.lower()] == sign(raw, SECRET)
    text_of, sender = asyncio.run(
        applied(clean_db, "wamid.HBgMOTcyNTIxMjM0NTY3FQIAEhggQTAwMDAw0001==")
    )
    assert text_of == "שלום! אני מעוניינת בדירה 😀 https://example.co.il/apt/4711"
    assert sender == "נועה בן דוד"


async def applied(settings, wamid: str) -> tuple[str | None, str | None]:
    """The applied message's text and its lead's profile name, decrypted."""
    db = open_database(settings)
    await db.start()
    try:
        async with db.session() as session:
            message = await session.scalar(select(Message).where(Message.wa_message_id == wamid))
            assert message is not None, "the body was processed but its message is missing"
            lead = await session.get(Lead, message.lead_id)
        assert lead is not None
        key = await db.vault.key("lead", lead.id)
        (record,) = await open_leads(db.vault, [lead])
        return open_message(message, key).text, record.profile_name
    finally:
        await db.dispose()


def test_the_stored_body_decrypts_to_the_exact_bytes(meta, clean_db, load_payload) -> None:
    from ovenai.ingest.receive.hour_keys import open_body

    raw = load_payload("text_hebrew_emoji.json")
    assert post(meta, raw) == 200
    (row,) = stored_rows(clean_db)

    async def read() -> bytes:
        db = open_database(clean_db)
        await db.start()
        try:
            return await open_body(db.vault, row.id, row.key_bucket, row.body_enc or b"")
        finally:
            await db.dispose()

    assert asyncio.run(read()) == raw


def test_a_re_serialised_body_fails_the_signature(meta, clean_db, load_payload) -> None:
    raw = load_payload("text_hebrew_emoji.json")
    redumped = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    before = rejected("signature")
    assert post(meta, redumped, sign(raw, SECRET)) == 401
    assert rejected("signature") == before + 1
    assert stored_rows(clean_db) == []


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_a_missing_or_wrong_signature_is_401_and_not_stored(meta, clean_db, signature) -> None:
    before = rejected("signature")
    assert post(meta, b'{"object": "whatsapp_business_account", "entry": []}', signature) == 401
    assert rejected("signature") == before + 1
    assert stored_rows(clean_db) == []


def test_a_body_over_4_mib_is_413_declared_or_streamed(meta, clean_db) -> None:
    big = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    before = rejected("too_large")
    assert post(meta, big) == 413

    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    headers = {SIGNATURE_HEADER: sign(big, SECRET)}
    assert meta.post(PATH, content=chunks(), headers=headers).status_code == 413
    assert rejected("too_large") == before + 2
    assert stored_rows(clean_db) == []


def test_three_megabytes_are_accepted(meta, clean_db) -> None:
    body = json.dumps({"object": "page", "entry": [], "pad": "x" * 3_000_000}).encode()
    assert post(meta, body) == 200


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"a": ' * 200 + b"1" + b"}" * 200, b'{"object": "x"']
)
def test_a_signed_body_that_is_not_a_json_object_is_400(meta, clean_db, raw) -> None:
    before = rejected("malformed")
    assert post(meta, raw) == 400
    assert rejected("malformed") == before + 1
    assert stored_rows(clean_db) == []


@pytest.mark.parametrize("fixture", ["other_object.json", "unknown_field.json"])
def test_another_object_or_field_is_stored_acknowledged_and_ignored(
    meta, clean_db, load_payload, fixture
) -> None:
    assert post(meta, load_payload(fixture)) == 200
    (row,) = wait_processed(clean_db, 1)
    assert row.error is None
    engine = create_engine(sync_url(clean_db.database_url))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leads")).scalar() == 0
    engine.dispose()


def test_the_handshake_echoes_the_challenge_as_plain_text(meta) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-verify-token",
        "hub.challenge": "1847263910",
    }
    answer = meta.get(PATH, params=params)
    assert (answer.status_code, answer.text) == (200, "1847263910")
    assert answer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
)
def test_the_handshake_refuses_a_wrong_token_or_mode(meta, params) -> None:
    assert meta.get(PATH, params=params).status_code == 403
