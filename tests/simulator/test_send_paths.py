"""A send gets the same answer and leaves the same records whichever way it comes in.

Three ways in: Starlette's routing (the general route, as every send once took), the raw
ASGI send path in front of it, and the uvicorn protocol that answers plain sends itself
(the session simulator on loopback). Random parts (wamids, trace ids) are masked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from ovenai.simulator import SimulatorThread, create_simulator_app
from ovenai.simulator.app import SimulatorApp
from support.simulator import CONFIG

pytestmark = pytest.mark.anyio
SEND_PATH = f"/v25.0/{CONFIG.phone_number_id}/messages"
AUTH = {"Authorization": f"Bearer {CONFIG.access_token}", "Content-Type": "application/json"}


def template(*params: str, name: str = "welcome_new_lead_en") -> dict[str, Any]:
    parameters = [{"type": "text", "text": text} for text in params]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+972500000001",
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": "en"},
            "components": [{"type": "body", "parameters": parameters}],
        },
        "biz_opaque_callback_data": "lead-7",
    }


@dataclass(frozen=True)
class Case:
    """One request (sent ``times`` times) after an optional ``POST /_sim/faults``."""

    status: int
    code: int | None = None
    body: bytes = orjson.dumps(template("Noa", "Haifa"))
    path: str = SEND_PATH
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))
    faults: dict[str, Any] | None = None
    times: int = 1


CASES = {
    "accepted": Case(200),
    "token_in_the_query": Case(200, path=SEND_PATH + "?access_token=test-token", headers={}),
    "no_token": Case(401, 190, headers={}),
    "wrong_token": Case(401, 190, headers={"Authorization": "Bearer stale"}),
    "expired_version": Case(400, 100, path=SEND_PATH.replace("v25.0", "v19.0")),
    "another_number": Case(400, 100, path="/v25.0/999/messages"),
    "invalid_json": Case(400, 100, body=b"{"),
    "missing_product": Case(400, 100, body=b'{"to": "+972500000001", "type": "text"}'),
    "wrong_parameter_count": Case(400, 132000, body=orjson.dumps(template("Noa"))),
    "unknown_template": Case(404, 132001, body=orjson.dumps(template("a", name="nope"))),
    "text_outside_the_window": Case(
        400, 131047, body=orjson.dumps({**template(), "type": "text", "text": {"body": "hi"}})
    ),
    "injected_error": Case(500, 131000, faults={"errors": [{"code": 131000}]}),
    "injected_bare_503": Case(503, faults={"http_status": {"status": 503}}),
    "injected_html_page": Case(502, faults={"html": {}}),
    "injected_non_json": Case(200, faults={"non_json": {"status": 200}}),
    "injected_latency": Case(200, faults={"latency": {"ms": 5}}),
    "cap_refusal": Case(429, 130429, faults={"mps_cap": 1}, times=2),
}


class StarletteOnly:
    """The simulator app with every request going through Starlette's routing."""

    def __init__(self, app: SimulatorApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(self.app, scope, receive, send)


@pytest.fixture
async def ways(simulator: SimulatorThread) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    routed = StarletteOnly(create_simulator_app(CONFIG))
    made = {
        "starlette": httpx.AsyncClient(transport=httpx.ASGITransport(app=routed)),
        "asgi": httpx.AsyncClient(transport=httpx.ASGITransport(app=create_simulator_app(CONFIG))),
        "protocol": httpx.AsyncClient(),
    }
    bases = {"starlette": "http://sim", "asgi": "http://sim", "protocol": simulator.base_url}
    for name, client in made.items():
        client.base_url = httpx.URL(bases[name])
    yield made
    for client in made.values():
        await client.aclose()


def masked(value: Any) -> Any:
    """A JSON value with wamids, trace ids and timestamps replaced by placeholders."""
    if isinstance(value, dict):
        return {key: _masked_item(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _masked_item(key: str, item: Any) -> Any:
    if key in ("fbtrace_id", "at") or (key == "id" and str(item).startswith("wamid.")):
        return f"<{key}>"
    return masked(item)


async def answer(client: httpx.AsyncClient, case: Case) -> tuple[int, str, Any, Any]:
    """Status, content type and body of the last answer, and the outbox afterwards."""
    if case.faults is not None:
        (await client.post("/_sim/faults", json=case.faults)).raise_for_status()
    for _ in range(case.times):
        got = await client.post(case.path, content=case.body, headers=case.headers)
    kind = got.headers["content-type"]
    body = masked(got.json()) if kind == "application/json" else got.text
    outbox = (await client.get("/_sim/outbox")).json()
    return got.status_code, kind, body, masked(outbox)


@pytest.mark.parametrize("name", CASES)
async def test_every_way_in_gives_the_same_answer_and_records(
    name: str, ways: dict[str, httpx.AsyncClient]
) -> None:
    case = CASES[name]
    answers = {way: await answer(client, case) for way, client in ways.items()}
    assert answers["asgi"] == answers["starlette"]
    assert answers["protocol"] == answers["starlette"]
    status, _, body, _ = answers["starlette"]
    assert status == case.status
    if case.code is not None:
        assert body["error"]["code"] == case.code


async def test_the_outbox_keeps_the_body_as_sent_and_when(
    ways: dict[str, httpx.AsyncClient],
) -> None:
    body = template("נועה", "חיפה")
    got = await ways["protocol"].post(SEND_PATH, content=orjson.dumps(body), headers=AUTH)
    record = (await ways["protocol"].get("/_sim/outbox")).json()["messages"][0]
    assert record["id"] == got.json()["messages"][0]["id"]
    assert record["body"] == body and record["body"]["biz_opaque_callback_data"] == "lead-7"
    assert isinstance(record["at"], float) and record["type"] == "template"
