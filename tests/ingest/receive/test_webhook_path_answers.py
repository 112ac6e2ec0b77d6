"""The webhook path is answered before FastAPI's stack: it still carries the security
headers, refuses other methods and leaves every other path to the application."""

from __future__ import annotations

import pytest

from ovenai.endpoints import WEBHOOK_PATH as PATH
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign

SECRET = "test-app-secret"


def _security_headers_present(headers) -> bool:
    return (
        "frame-ancestors 'none'" in headers["content-security-policy"]
        and headers["x-content-type-options"] == "nosniff"
        and headers["referrer-policy"] == "no-referrer"
        and headers["x-frame-options"] == "DENY"
    )


def test_a_stored_post_is_answered_with_the_security_headers(meta, clean_db) -> None:
    raw = b'{"object": "whatsapp_business_account", "entry": []}'
    answer = meta.post(PATH, content=raw, headers={SIGNATURE_HEADER: sign(raw, SECRET)})
    assert (answer.status_code, answer.text) == (200, "ok")
    assert answer.headers["content-type"].startswith("text/plain")
    assert _security_headers_present(answer.headers)


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64])
def test_a_refused_post_is_answered_with_the_security_headers(meta, clean_db, signature) -> None:
    headers = {} if signature is None else {SIGNATURE_HEADER: signature}
    answer = meta.post(PATH, content=b"{}", headers=headers)
    assert answer.status_code == 401
    assert _security_headers_present(answer.headers)


def test_the_handshake_is_answered_with_the_security_headers(meta) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-verify-token",
        "hub.challenge": "7",
    }
    answer = meta.get(PATH, params=params)
    assert (answer.status_code, answer.text) == (200, "7")
    assert _security_headers_present(answer.headers)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(meta, clean_db, method) -> None:
    answer = meta.request(method, PATH, content=b"{}")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert _security_headers_present(answer.headers)


def test_paths_next_to_the_webhook_still_go_through_the_application(meta) -> None:
    answer = meta.post(PATH + "/other", content=b"{}")
    assert answer.status_code == 404
    assert _security_headers_present(answer.headers)
