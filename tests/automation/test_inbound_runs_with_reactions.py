"""The reactions (consent, score, rules) take a run of inbound messages at once, as the
processor applies a batch: what they read costs the same statements for 40 messages as for
4, and what they decide is what they decided a message at a time."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from automation.conftest import firings, sent_to
from automation.test_rules_on_inbound import CALL_BACK, add_rule, button_body, lead_of, now, said
from ingest.apply.test_inbound_runs import T0, apply_together, inbound, statements_of
from ingest.conftest import Bodies, Harness
from ovenai import hooks
from ovenai.db import Database
from ovenai.models import AutomationFiring, Lead, ScoreChange

pytestmark = pytest.mark.anyio


def _sender(n: int) -> str:
    return f"97252{n:07d}"


async def _statements(db: Database, bodies: Any, senders: int, start: int) -> list[str]:
    """The statements (savepoints aside) of a batch of texts from ``senders`` leads who wrote
    an hour before (greeted then, and moved to "contacted")."""
    known = [
        inbound(bodies, f"wamid.K{start + n}", ts=T0, wa_id=_sender(start + n), user_id=None)
        for n in range(senders)
    ]
    await apply_together(db, *known)
    batch = [
        inbound(
            bodies,
            f"wamid.L{start + n}",
            ts=T0 + 3600,
            wa_id=_sender(start + n),
            user_id=None,
            text="אפשר לתאם צפייה?",
        )
        for n in range(senders)
    ]
    return await statements_of(db, apply_together(db, *batch))


async def test_reacting_to_40_known_leads_runs_as_many_statements_as_to_4(
    automated: Database,
) -> None:
    few = await _statements(automated, Bodies, 4, start=0)
    many = await _statements(automated, Bodies, 40, start=1000)

    assert many == few
    async with automated.session() as session:
        leads = list(await session.scalars(select(Lead)))
        reasons = list(await session.scalars(select(ScoreChange.reason)))
    assert len(leads) == 44 and {lead.stage for lead in leads} == {"contacted"}
    # Each lead: a reply an hour apart twice, and the viewing asked for.
    assert sorted(set(reasons)) == ["replied", "wants_viewing"]
    assert reasons.count("replied") == 88 and reasons.count("wants_viewing") == 44


async def test_a_new_lead_writing_twice_in_one_batch_is_greeted_for_the_first_message(
    automated: Database, harness: Any
) -> None:
    bodies = Bodies
    await apply_together(
        automated,
        inbound(bodies, "wamid.N1", ts=T0, wa_id=_sender(7), user_id=None, text="שלום"),
        inbound(bodies, "wamid.N2", ts=T0 + 2, wa_id=_sender(7), user_id=None, text="יש דירות?"),
    )

    lead = await harness.lead(wa_id=_sender(7))
    first = await harness.message("wamid.N1")
    assert lead is not None
    async with automated.session() as session:
        events = list(
            await session.scalars(
                select(AutomationFiring.event).where(AutomationFiring.lead_id == lead.id)
            )
        )
    # The greeting (skipped: no listing's town to name) and the move to "contacted", each
    # once, for the first message: the second is not a first contact, nor the same event.
    assert [key for key, _, _ in await firings(automated, lead.id)] == [
        "greet_new_whatsapp_lead",
        "first_answer_contacted",
    ]
    assert events == [f"message:{first.id}"] * 2


async def test_the_daily_cap_counts_what_the_run_itself_queued(harness: Harness) -> None:
    """Four taps in one batch, each firing a rule that answers: the greeting of the first
    message and two answers reach the cap of 3; the run counts its own sends."""
    await add_rule(harness.db, "call_back", CALL_BACK)
    wa_id = "972521110016"
    await apply_together(
        harness.db,
        said("wamid.capr.0", "היי, ראיתי את הדירה בחיפה", wa_id=wa_id),
        *[
            button_body(f"wamid.capr.{n}", "call_me", "התקשרו אליי", wa_id=wa_id, ts=now() + n)
            for n in range(1, 4)
        ],
    )

    lead = await lead_of(harness, wa_id)
    sent = await sent_to(harness.db, lead.id)
    assert len(sent) == 3
    assert [opened.text for _, opened in sent[1:]] == ["נחזור אליך בטלפון"] * 2
    taps = [row for row in await firings(harness.db, lead.id) if row[0] == "call_back"]
    assert [outcome for _, outcome, _ in taps] == ["done", "done", "skipped"]
    assert taps[-1][2] == "the daily cap of 3 automated messages for this lead is reached"


def _firings_counted(rule: str) -> float:
    labels = {"rule": rule, "outcome": "done"}
    return REGISTRY.get_sample_value("ovenai_automation_firings_total", labels) or 0.0


async def test_a_run_tried_again_after_a_broken_hook_counts_each_firing_once(
    automated: Database, harness: Any
) -> None:
    """The rules' hook logs its firings, then a later hook fails: the shared savepoint is
    rolled back, the rules run again for each message, and the metric counts what stayed."""

    async def broken(session: Any, stored: Any) -> None:
        raise RuntimeError("a bug in a later hook")

    before = _firings_counted("first_answer_contacted")
    hooks.after_inbound.append(broken)
    try:
        await apply_together(
            automated,
            inbound(Bodies, "wamid.B1", ts=T0, wa_id=_sender(21), user_id=None, text="שלום"),
            inbound(Bodies, "wamid.B2", ts=T0, wa_id=_sender(22), user_id=None, text="שלום"),
        )
    finally:
        hooks.after_inbound.remove(broken)

    for n in (21, 22):
        lead = await harness.lead(wa_id=_sender(n))
        assert ("first_answer_contacted", "done") in [
            (key, outcome) for key, outcome, _ in await firings(automated, lead.id)
        ]
    assert _firings_counted("first_answer_contacted") == before + 2
