"""One error shape for every JSON answer: what routing refuses and what validation refuses,
with messages written for people."""

from __future__ import annotations

import httpx


def test_an_unknown_path_and_a_wrong_method_answer_the_api_error_shape(
    admin: httpx.Client,
) -> None:
    missing = admin.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "NotFound",
        "message": "no such path; the routes are listed at /api/docs",
        "field": None,
    }
    wrong = admin.delete("/api/v1/leads")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "MethodNotAllowed" and "method" in wrong.json()["message"]
    assert "allow" in wrong.headers


def test_a_body_that_is_not_json_is_said_plainly(admin: httpx.Client) -> None:
    answer = admin.post(
        "/api/v1/leads", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["fields"] == [{"field": "body", "message": "the body is not valid JSON"}]


def test_validation_messages_carry_no_library_prefix(admin: httpx.Client) -> None:
    answer = admin.post("/api/v1/leads", json={"name": "x", "phone": "not a phone"})
    assert answer.status_code == 422
    messages = [item["message"] for item in answer.json()["fields"]]
    assert messages and not any(m.startswith("Value error") for m in messages)
