"""X-Hub-Signature-256: HMAC-SHA256 over the exact raw bytes (Meta: Webhooks › Getting started)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ovenai.ingest.errors import InvalidSignature
from ovenai.ingest.receive.signature import require_valid_signature, sign, verify_signature

SECRET = "ovenai-test-app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
# Computed independently: printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET"
BODY_HEX = "70b46c72217f3fd421512b8a20c5cb83455d8f4a19f44ccb0882325a5c58a738"
# openssl dgst -sha256 -hmac "$SECRET" tests/ingest/fixtures/text_hebrew_emoji.json
HEBREW_HEX = "850c7e39a67a5039a7bd3d87bbc7c8217dd1599974b2160b2d613beceea8eccb"


def test_it_signs_a_known_body_with_the_known_answer() -> None:
    assert sign(BODY, SECRET) == f"sha256={BODY_HEX}"


def test_it_matches_rfc_4231_test_case_2() -> None:
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"what do ya want for nothing?", "Jefe") == f"sha256={expected}"


def test_it_accepts_the_header_meta_sends() -> None:
    assert verify_signature(BODY, f"sha256={BODY_HEX}", SECRET)


def test_it_verifies_a_hebrew_emoji_body_on_its_raw_bytes(
    load_payload: Callable[[str], bytes],
) -> None:
    raw = load_payload("text_hebrew_emoji.json")
    assert b"\\u05e9" in raw and b"\\ud83d\\ude00" in raw and b"\\/" in raw
    assert verify_signature(raw, f"sha256={HEBREW_HEX}", SECRET)


@pytest.mark.parametrize(
    "redump",
    [
        lambda doc: json.dumps(doc),
        lambda doc: json.dumps(doc, separators=(",", ":")),
        lambda doc: json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
    ],
    ids=["default", "compact", "compact-utf8"],
)
def test_it_rejects_the_same_body_once_re_serialised(
    load_payload: Callable[[str], bytes], redump: Callable[[object], str]
) -> None:
    re_serialised = redump(json.loads(load_payload("text_hebrew_emoji.json"))).encode()
    assert not verify_signature(re_serialised, f"sha256={HEBREW_HEX}", SECRET)


def test_it_rejects_a_body_changed_by_one_byte() -> None:
    assert not verify_signature(BODY + b" ", sign(BODY, SECRET), SECRET)


def test_it_rejects_another_apps_secret() -> None:
    assert not verify_signature(BODY, sign(BODY, "another-app"), SECRET)


def test_it_accepts_upper_case_hex_and_surrounding_spaces() -> None:
    assert verify_signature(BODY, f" sha256={BODY_HEX.upper()} ", SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        BODY_HEX,
        f"sha1={BODY_HEX}",
        f"sha256={BODY_HEX[:-1]}",
        f"sha256={BODY_HEX}00",
        f"sha256={BODY_HEX[:-1]}g",
        f"sha256={BODY_HEX[:-1]}\u05e9",
        "sha256=\x00" * 3,
    ],
)
def test_it_says_no_to_a_missing_or_malformed_header(header: str | None) -> None:
    assert verify_signature(BODY, header, SECRET) is False


def test_it_never_verifies_with_an_empty_secret() -> None:
    assert not verify_signature(BODY, sign(BODY, ""), "")


def test_it_raises_invalid_signature_without_the_secret_in_the_message() -> None:
    with pytest.raises(InvalidSignature) as caught:
        require_valid_signature(BODY, "sha256=" + "0" * 64, SECRET)
    assert SECRET not in str(caught.value) and caught.value.http_status == 401


def test_it_lets_a_good_signature_through_silently() -> None:
    require_valid_signature(BODY, sign(BODY, SECRET), SECRET)
