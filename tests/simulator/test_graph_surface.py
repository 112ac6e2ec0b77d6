"""Meta's envelope for auth, versions and unknown paths; control API odds and ends."""

from __future__ import annotations

import aiohttp
import pytest

from ovenai.simulator import SimulatorThread
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio


async def test_a_missing_token_gets_401_with_code_190(
    simulator: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    url = f"{simulator.base_url}/v25.0/420000000000002/messages"
    async with http.post(url, json={"messaging_product": "whatsapp"}) as answer:
        body = await answer.json()
    assert answer.status == 401 and body["error"]["code"] == 190
    assert body["error"]["type"] == "OAuthException" and body["error"]["fbtrace_id"]


async def test_an_unknown_path_answers_metas_unsupported_request(
    simulator: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": "Bearer test-token"}
    url = f"{simulator.base_url}/v25.0/999/messages"
    async with http.post(url, json={}, headers=headers) as answer:
        body = await answer.json()
    assert answer.status == 400 and body["error"]["error_subcode"] == 33


async def test_the_templates_listing_gives_an_absolute_next_url(
    simulator: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": "Bearer test-token"}
    url = f"{simulator.base_url}/v25.0/310000000000001/message_templates?limit=5"
    async with http.get(url, headers=headers) as answer:
        first = await answer.json()
    assert len(first["data"]) == 5
    assert first["paging"]["next"].startswith(f"{simulator.base_url}/v25.0/")
    async with http.get(first["paging"]["next"], headers=headers) as answer:
        second = await answer.json()
    assert len(second["data"]) == 3 and "next" not in second["paging"]


async def test_the_outbox_lists_rejected_sends_apart(
    simulator: SimulatorThread, http: aiohttp.ClientSession, control: SimControl
) -> None:
    headers = {"Authorization": "Bearer test-token"}
    url = f"{simulator.base_url}/v25.0/420000000000002/messages"
    body = {
        "messaging_product": "whatsapp",
        "to": "+972501",
        "type": "text",
        "text": {"body": "hi"},
    }
    async with http.post(url, json=body, headers=headers) as answer:
        assert answer.status == 400
    outbox = await control.outbox()
    assert outbox["messages"] == [] and outbox["rejected"][0]["code"] == 131047


async def test_unknown_settings_are_refused(control: SimControl) -> None:
    with pytest.raises(AssertionError, match="allowed"):
        await control.config(no_such_setting=1)
