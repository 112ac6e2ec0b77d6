"""Inbound media as Meta serves it: ``GET /{media-id}``, the URL's bytes for the bearer
token, its five minutes, and the faults tests inject."""

from __future__ import annotations

import base64
import hashlib

import aiohttp
import pytest

from ovenai.simulator import SimulatorThread
from support.simulator_http import SimControl

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Bearer test-token"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


async def _sent(control: SimControl, **fields: object) -> str:
    answer = await control.inbound(**{"from": "972521230001", "wait": False, **fields})
    message = answer["webhook"]["entry"][0]["changes"][0]["value"]["messages"][0]
    kind = message["type"]
    return str(message[kind]["id"])


async def _info(simulator: SimulatorThread, http: aiohttp.ClientSession, media_id: str) -> dict:
    url = f"{simulator.base_url}/v25.0/{media_id}"
    async with http.get(url, headers=AUTH) as answer:
        assert answer.status == 200
        return dict(await answer.json())


async def test_a_document_s_url_serves_its_bytes_to_the_token_only(
    simulator: SimulatorThread, http: aiohttp.ClientSession, control: SimControl
) -> None:
    data = base64.b64encode(PDF).decode()
    media_id = await _sent(control, type="document", data_b64=data, filename="a.pdf")
    info = await _info(simulator, http, media_id)
    assert info["id"] == media_id and info["mime_type"] == "application/pdf"
    assert (info["file_size"], info["sha256"]) == (len(PDF), hashlib.sha256(PDF).hexdigest())
    async with http.get(info["url"], headers=AUTH) as answer:
        assert answer.status == 200 and await answer.read() == PDF
    async with http.get(info["url"]) as answer:
        assert answer.status == 401


async def test_a_url_expires_after_five_minutes_of_the_media_clock(
    simulator: SimulatorThread, http: aiohttp.ClientSession, control: SimControl
) -> None:
    media_id = await _sent(control, type="image")
    info = await _info(simulator, http, media_id)
    await control._call("POST", "media/clock", {"advance_s": 301})
    async with http.get(info["url"], headers=AUTH) as answer:
        assert answer.status == 404
    fresh = await _info(simulator, http, media_id)
    async with http.get(fresh["url"], headers=AUTH) as answer:
        assert answer.status == 200 and (await answer.read())[:3] == b"\xff\xd8\xff"


async def test_an_unknown_media_id_and_injected_faults_answer_as_meta_does(
    simulator: SimulatorThread, http: aiohttp.ClientSession, control: SimControl
) -> None:
    async with http.get(f"{simulator.base_url}/v25.0/123", headers=AUTH) as answer:
        body = await answer.json()
    assert answer.status == 400 and body["error"]["error_subcode"] == 33
    media_id = await _sent(control, type="document", size=5000)
    await control._call("POST", "media/faults", {"info_errors": 1, "fail_downloads": 1})
    async with http.get(f"{simulator.base_url}/v25.0/{media_id}", headers=AUTH) as answer:
        assert (await answer.json())["error"]["code"] == 131052
    info = await _info(simulator, http, media_id)
    assert info["file_size"] == 5000
    async with http.get(info["url"], headers=AUTH) as answer:
        assert answer.status == 500
    async with http.get(info["url"], headers=AUTH) as answer:
        body = await answer.read()
    assert len(body) == 5000 and body.startswith(b"%PDF-") and body.endswith(b"%%EOF\n")
