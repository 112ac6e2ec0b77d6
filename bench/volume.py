"""A PostgreSQL database at volume, made in SQL: users, leads and a month of messages.

Shared by the benchmarks that need 100,000 leads and 1,000,000 messages (``bench.kpis``,
``bench.workspace_pages``). ``seed`` writes ten agents (``agent-1`` … ``agent-10``, no
password: they are the messages' senders), ``leads`` leads (ids ``000…1``, Hebrew four in
five, no name or phone), ``messages`` messages spread evenly over the last ``days`` days
(45 % inbound, 55 % outbound: read, delivered, sent, failed with Meta's codes, a few still
queued; 60 % of outbound from templates in the seed's 45/25/15/10/5 mix; a third of outbound
written by agents) and one webhook body per three messages, in time order as they would be
written (``generate_series``), then analyses every table.

Message ``i`` goes to lead ``1 + 7919 i mod leads``, so a lead's messages are ``leads``
apart and about ``messages / leads`` of them (ten by default). Their direction mixes ``i``
with ``i / leads`` (the message's place in its lead's history), so every lead both writes
and is written to: leads reply, agents answer their turns, some turns stay unanswered. A
lead's outbound messages share one outcome and template (those mixes depend on ``i`` alone),
so about one lead in twelve has no accepted message of ours.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import text

from ovenai.columns import utcnow
from ovenai.db import Database

SEED = """
INSERT INTO users (id, email, role, is_active, language, display_name, created_at, updated_at)
SELECT 'agent-' || a, 'agent' || a || '@agency.co.il', 'agent', true, 'he', '', now(), now()
FROM generate_series(1, 10) AS a;

INSERT INTO leads (id, language, source, stage, engagement_score, created_at, updated_at)
SELECT lpad(l::text, 36, '0'), CASE WHEN l % 5 = 0 THEN 'en' ELSE 'he' END, 'whatsapp',
       'contacted', 0, :start, :start
FROM generate_series(1, :leads) AS l;

INSERT INTO messages (id, lead_id, direction, type, template_name, status, status_at,
                      sent_at, failed_at, error_code, error_title, sent_by_id,
                      created_at, updated_at, attempts, throttled_attempts)
SELECT lpad('m' || i, 36, '0'),
       lpad((1 + (i * 7919) % :leads)::text, 36, '0'),
       CASE WHEN d < 45 THEN 'inbound' ELSE 'outbound' END,
       CASE WHEN d >= 45 AND (i * 13) % 100 < 60 THEN 'template' ELSE 'text' END,
       CASE WHEN d < 45 OR (i * 13) % 100 >= 60 THEN NULL
            WHEN (i * 17) % 100 < 45 THEN 'welcome_new_lead_he'
            WHEN (i * 17) % 100 < 70 THEN 'property_details_he'
            WHEN (i * 17) % 100 < 85 THEN 'meeting_reminder_he'
            WHEN (i * 17) % 100 < 95 THEN 'followup_interest_he'
            ELSE 'document_request_he' END,
       s.status, at, CASE WHEN s.status IN ('read', 'delivered', 'sent') THEN at END,
       CASE WHEN s.status = 'failed' THEN at END,
       CASE WHEN s.status = 'failed' THEN (ARRAY[131026, 131049, 131047])[1 + i % 3] END,
       CASE WHEN s.status = 'failed' THEN 'Message undeliverable' END,
       CASE WHEN d >= 45 AND (i * 11) % 3 = 0 THEN 'agent-' || (1 + i % 10) END,
       at, at, 1, 0
FROM generate_series(1::bigint, :messages) AS i,
     LATERAL (SELECT :start + (i * :span / :messages) * interval '1 second' AS at,
                     (i * 31 + (i / :leads) * 37) % 100 AS d) AS t,
     LATERAL (SELECT CASE WHEN d < 45 THEN 'received'
                          WHEN (i * 23) % 100 < 50 THEN 'read'
                          WHEN (i * 23) % 100 < 80 THEN 'delivered'
                          WHEN (i * 23) % 100 < 92 THEN 'sent'
                          WHEN (i * 23) % 100 < 97 THEN 'failed'
                          ELSE 'queued' END AS status) AS s;

INSERT INTO webhook_events (id, received_at, key_bucket, body_size, status, attempts,
                            processed_at)
SELECT lpad('w' || i, 36, '0'), at, 'bench', 900, 'processed', 1,
       at + ((i % 40) * interval '10 milliseconds')
FROM generate_series(1::bigint, :messages / 3) AS i,
     LATERAL (SELECT :start + (i * 3 * :span / :messages) * interval '1 second' AS at) AS t;

ANALYZE;
"""


async def seed(db: Database, *, leads: int, messages: int, days: int) -> float:
    """Make the rows; how many seconds it took."""
    started = time.perf_counter()
    values = {
        "leads": leads,
        "messages": messages,
        "span": days * 86400,
        "start": utcnow() - timedelta(days=days),
    }
    async with db.engine.begin() as connection:
        for statement in SEED.split(";\n"):
            if statement.strip():
                names = [name for name in values if f":{name}" in statement]
                await connection.execute(text(statement), {n: values[n] for n in names})
    return time.perf_counter() - started
