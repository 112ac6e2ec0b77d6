"""Meta's creation rules enforced: by the simulator (Meta's error shape), by submission and
import (refused locally, nothing sent), and by `ovenai templates submit|check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from ovenai import templates
from ovenai.cli import app
from ovenai.cloudapi import CloudApiClient
from ovenai.cloudapi import errors as e
from ovenai.crypto import generate_master_key
from ovenai.db import Database
from ovenai.simulator import SimulatorThread
from ovenai.templates import rules
from support.simulator_http import SimControl
from templates.conftest import CONFIG, PRODUCTION_WABA

pytestmark = pytest.mark.anyio

DANGLING = [
    {
        "type": "BODY",
        "text": "{{1}}, what did you think of the property you saw in {{2}}? More soon.",
        "example": {"body_text": [["Dana", "Haifa"]]},
    }
]
GOOD = [
    {
        "type": "BODY",
        "text": "Hi {{1}}, what did you think of the property you saw in {{2}}? More soon.",
        "example": {"body_text": [["Dana", "Haifa"]]},
    }
]


async def test_the_simulator_refuses_a_dangling_variable_as_meta_does(
    fresh_simulator: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    url = f"{fresh_simulator.base_url}/v25.0/{PRODUCTION_WABA}/message_templates"
    submission = {"name": "followup_en", "language": "en", "category": "MARKETING"}
    headers = {"Authorization": f"Bearer {CONFIG.access_token}"}
    async with http.post(url, json=submission | {"components": DANGLING}, headers=headers) as r:
        assert r.status == 400
        error = (await r.json())["error"]
    assert error["code"] == 100 and error["error_subcode"] == 2388299
    assert error["message"] == "Invalid parameter" and error["type"] == "OAuthException"
    assert error["error_user_title"] == "Leading or trailing params not allowed"
    assert "starts with a variable" in error["error_user_msg"] and error["fbtrace_id"]
    assert error["is_transient"] is False


@pytest.mark.parametrize(
    ("components", "subcode"),
    [
        ([{"type": "BODY", "text": "Hi {{1}}, {{2}} at {{3}} in {{4}} ok?"}], 2388293),
        ([{"type": "BODY", "text": "Hi {{1}}, welcome to the agency, we will call soon."}], None),
        ([GOOD[0], {"type": "FOOTER", "text": "Agent {{1}}"}], 2388073),
        ([{"type": "BODY", "text": "Hi there " + "x" * 1030}], 2388040),
    ],
)
async def test_the_simulator_refuses_every_broken_rule(
    client: CloudApiClient, components: list[dict[str, Any]], subcode: int | None
) -> None:
    with pytest.raises(e.InvalidParameter) as caught:
        await client.create_template(
            name="rule_check_en",
            language="en",
            category="UTILITY",
            components=components,
            waba_id=PRODUCTION_WABA,
        )
    assert caught.value.error_subcode == subcode
    assert caught.value.info.user_message
    assert await client.list_templates(waba_id=PRODUCTION_WABA) == []


async def test_the_simulator_accepts_the_corrected_template(client: CloudApiClient) -> None:
    created = await client.create_template(
        name="followup_en",
        language="en",
        category="MARKETING",
        components=GOOD,
        waba_id=PRODUCTION_WABA,
    )
    assert created.status.value == "PENDING"


async def test_submit_refuses_locally_and_nothing_reaches_meta(
    db: Database, client: CloudApiClient, control: SimControl
) -> None:
    before = (await control.stats())["counts"].get("templates_created", 0)
    with pytest.raises(rules.TemplateRulesBroken) as caught:
        await templates.submit(
            db, client, "followup_en", "en", "MARKETING", DANGLING, waba_id=PRODUCTION_WABA
        )
    assert [v.rule for v in caught.value.violations] == ["dangling"]
    assert await client.list_templates(waba_id=PRODUCTION_WABA) == []
    after = (await control.stats())["counts"].get("templates_created", 0)
    assert after == before
    assert await templates.list_templates(db, waba_id=PRODUCTION_WABA) == []
    made = await templates.submit(
        db, client, "followup_en", "en", "MARKETING", GOOD, waba_id=PRODUCTION_WABA
    )
    assert made.status == "PENDING"
    assert (await control.stats())["counts"]["templates_created"] == before + 1


async def test_import_refuses_broken_templates_locally_and_submits_the_rest(
    db: Database, client: CloudApiClient, tmp_path: Path
) -> None:
    file = tmp_path / "templates.json"
    broken = {"name": "old_followup_he", "language": "he", "category": "MARKETING"}
    good = {"name": "followup_en", "language": "en", "category": "MARKETING"}
    entries = [broken | {"components": DANGLING}, good | {"components": GOOD}]
    file.write_text(json.dumps({"templates": entries}), encoding="utf-8")
    report = await templates.import_(db, client, file, PRODUCTION_WABA)
    assert report.submitted == ["followup_en (en)"]
    [(label, reason)] = report.refused
    assert label == "old_followup_he (he)" and "refused locally" in reason
    assert "starts with a variable" in reason
    listed = await client.list_templates(waba_id=PRODUCTION_WABA)
    assert [t.name for t in listed] == ["followup_en"]


async def test_the_seed_and_the_english_drafts_are_accepted_by_the_simulator(
    client: CloudApiClient,
) -> None:
    drafts = Path(templates.__file__).parent.parent / "data" / "english_drafts.json"
    for definition in templates.seed_definitions() + templates.read_export(drafts):
        created = await client.create_template(
            name=definition.name,
            language=definition.language,
            category=definition.category,
            components=definition.components,
            waba_id=PRODUCTION_WABA,
        )
        assert created.status.value == "PENDING"


def _environment(tmp_path: Path) -> dict[str, str | None]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ovenai.db'}",
        "OVENAI_KEYSTORE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
        "OVENAI_ENCRYPTION_KEYS": generate_master_key(),
        "OVENAI_SECRET_KEY": "s" * 40,
        "OVENAI_DATA_DIR": str(tmp_path / "var"),
        "OVENAI_ENV": "development",
        "WHATSAPP_ACCESS_TOKEN": "not-used",
        "WHATSAPP_PHONE_NUMBER_ID": "420000000000002",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": PRODUCTION_WABA,
        # Nothing listens here: a refused template never gets as far as a call.
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9",
    }


def test_cli_submit_lists_every_broken_rule_and_sends_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "templates",
            "submit",
            "Followup",
            "--language",
            "en",
            "--category",
            "utility",
            "--body",
            "{{1}} {{2}}",
            "--example",
            "Dana",
            "--example",
            "Haifa",
        ],
        env=_environment(tmp_path),
    )
    assert result.exit_code == 65, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "error: Followup (en) would be refused by Meta, nothing was submitted:"
    assert lines[1].startswith("  - name: must be lowercase letters")
    assert any(line.startswith("  - body: starts with a variable") for line in lines)
    assert any(line.startswith("  - body: has two variables side by side") for line in lines)
    assert any(line.startswith("  - body: has 2 variables and 0 fixed words") for line in lines)
    assert "submitted" not in result.stdout


def test_cli_check_passes_the_seed_and_refuses_a_bad_file(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    seed = CliRunner().invoke(app, ["templates", "check"], env=env)
    assert seed.exit_code == 0, seed.output
    assert seed.stdout.splitlines()[-1] == "8 of 8 pass Meta's creation rules"
    file = tmp_path / "bad.json"
    entry = {"name": "followup_en", "language": "en", "category": "MARKETING"}
    file.write_text(json.dumps({"templates": [entry | {"components": DANGLING}]}))
    bad = CliRunner().invoke(app, ["templates", "check", str(file)], env=env)
    assert bad.exit_code == 65
    assert bad.stdout.splitlines()[:2] == [
        "REFUSED  followup_en (en)",
        "  - body: starts with a variable: add fixed text before the first and after the last",
    ]
