"""`ovenai privacy export|erase|request IDENTITY --by KIND` for people without a phone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from conftest import TEST_APP_SECRET
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign

Run = Callable[..., Result]
FIXTURES = Path(__file__).parents[1] / "ingest" / "fixtures"
BSUID, USERNAME = "IL.5550002223334445556", "maya.tlv"  # username_user_without_wa_id.json
WA_ID = "99912345678"  # country code 999 is no country's: a wa_id that is not a phone


def _webhook_body(kind: str) -> bytes:
    recorded = (FIXTURES / "username_user_without_wa_id.json").read_bytes()
    if kind != "wa_id":
        return recorded
    body = json.loads((FIXTURES / "text_hebrew_emoji.json").read_bytes())
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "נועה"}, "wa_id": WA_ID}]
    value["messages"][0]["from"] = WA_ID
    return json.dumps(body).encode()


def _whatsapp_lead(admin: httpx.Client, anonymous: httpx.Client, kind: str) -> tuple[str, str]:
    """Post the first message as Meta does; the lead's id and how the operator names it."""
    raw = _webhook_body(kind)
    headers = {SIGNATURE_HEADER: sign(raw, TEST_APP_SECRET), "Content-Type": "application/json"}
    assert anonymous.post("/api/webhooks/whatsapp", content=raw, headers=headers).status_code == 200
    deadline = time.monotonic() + 15
    while not (items := admin.get("/api/v1/leads").json()["items"]):
        assert time.monotonic() < deadline, "the webhook was never applied"
        time.sleep(0.05)
    (lead,) = items
    assert lead["phone"] is None
    typed = {"bsuid": BSUID, "username": "@" + USERNAME, "wa_id": WA_ID, "lead_id": lead["id"]}
    return lead["id"], typed[kind]


@pytest.mark.parametrize("kind", ["bsuid", "username", "wa_id", "lead_id"])
def test_a_lead_without_a_phone_is_exported_and_erased_by_what_is_known(
    ovenai: Run, admin: httpx.Client, anonymous: httpx.Client, kind: str
) -> None:
    lead_id, identity = _whatsapp_lead(admin, anonymous, kind)
    exported = ovenai("privacy", "export", identity, "--by", kind)
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["subject"]["id"] == lead_id

    erased = ovenai("privacy", "erase", identity, "--by", kind, "--yes")
    assert erased.exit_code == 0, erased.stderr
    assert erased.stdout.startswith(f"erased lead {lead_id}: 1 messages")
    assert admin.get(f"/api/v1/leads/{lead_id}").status_code == 410

    refused = ovenai("privacy", "export", identity, "--by", kind)
    assert refused.exit_code == 66 and refused.stdout == ""
    if kind == "lead_id":
        assert refused.stderr == f"error: lead {lead_id} was erased\n"
    else:
        message = f"no lead with that {kind} (never stored, or already erased)"
        assert refused.stderr == f"error: {message}\n"


def test_a_request_names_the_person_by_bsuid(
    ovenai: Run, admin: httpx.Client, anonymous: httpx.Client
) -> None:
    _whatsapp_lead(admin, anonymous, "bsuid")
    made = ovenai("privacy", "request", BSUID, "--by", "bsuid", "--kind", "erasure")
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith("request ") and "(erasure) due " in made.stdout


def test_an_identity_not_of_its_kind_is_refused_naming_it(ovenai: Run) -> None:
    refused = ovenai("privacy", "erase", "972521234567", "--by", "bsuid", "--yes")
    assert refused.exit_code == 65
    assert refused.stderr.startswith("error: a BSUID is a country code")
