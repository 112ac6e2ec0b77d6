"""The bulk rows of :mod:`bench.growth`, made in SQL (``INSERT … SELECT generate_series``).

:func:`grow` takes the database from ``have`` (leads, messages) to ``want``: the new leads
and their messages only, so one database grows 10^4 → 10^5 → 10^6 leads and generation is
paid once. Every id is a time-ordered UUID (version 7) as :func:`ovenai.columns.new_id`
makes them, stamped with the time the row is written, as the product's would be (the
``kpis.turns`` job finds the messages written since its last run by their ids).

What a new lead gets (pseudo-random but repeatable: ``hashint8extended`` of its number):

* **leads**: a sealed name, phone and WhatsApp id (placeholder ciphertext of a realistic
  length: no key opens it), blind indexes of phone and WhatsApp id (32 hex characters as
  the vault's), a BSUID for half and an e-mail for 30 %, Hebrew four in five, the six
  sources, stages spread over the pipeline (30 % new, 30 % contacted, …, 5 % won and 6 %
  lost, closed in the last month), 90 % assigned to ten agents, a score 0–100, 60 % opted
  in (with a consent row), created 46–76 days ago. The phone's search tokens are marked up
  to date (``phone_tokens_index``) but not made: no search by part of a number is measured.
* **messages**: spread over the new leads (each lead's messages interleaved with every other
  lead's, in time order), over the last ``DAYS`` days: both directions within a lead (45 %
  inbound; 5 % of those images), outbound read 50 %, delivered 30 %, sent 15 %, failed 5 %
  (Meta's codes), 60 % of outbound from five templates, agents' free text; a sealed text or
  template parameters (placeholder ciphertext) and a wamid each. One in a thousand is dated
  two years and a day ago, so the retention job has something to delete after each growth.
* **webhook bodies**: one per inbound message (sealed placeholder, 256 bytes), linked to its
  lead (``webhook_event_leads``), as the processor leaves them; the status bodies are not
  kept (``body_enc``-less rows would only add volume). Their key bucket is the hour's with
  ``.bulk`` after it (as a re-keyed hour's is the hour's and a suffix): an erasure re-keys
  the hours of the erased lead's bodies, re-sealing every body of each (ovenai.privacy),
  which placeholder ciphertext cannot be; so the measured erasures re-seal only the measured
  leads' bodies, not the thousands of an hour at a million messages.
* **applied items** (exactly-once keys): each inbound message's and each outbound message's
  last status; **status events**: each outbound message's last status.
* **meetings**: one per lead at a viewing stage or later; **consent**: one row per opted-in
  lead.

``leads.last_activity_at`` and ``latest_message_id`` are kept by the database's own triggers
(migration 0025: once per statement); ``last_inbound_at`` is set here from the messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ovenai import cohort_hours, response_turns, webhook_hours
from ovenai.db import Database
from ovenai.models import ResponseTurnsProgress

DAYS = 45
"""The history's span, in days (the KPI report's 30 days fall inside it)."""

AGENTS = 10
ADMIN_ID = "bench-admin"

# A version 7 UUID for row ``n`` written ``n / 2000`` ms after ``ms`` (so rows written in
# one statement sort in their order), its random bits taken from ``n`` and ``tag`` (one a
# table, so two tables' ids never meet).
UUID7 = """
CREATE OR REPLACE FUNCTION pg_temp.uuid7(ms bigint, n bigint, tag int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(lpad(to_hex(ms + n / 2000), 12, '0'), 1, 8) || '-'
           || substr(lpad(to_hex(ms + n / 2000), 12, '0'), 9, 4) || '-7'
           || lpad(to_hex(tag), 3, '0') || '-' || to_hex(8 + (n >> 60) % 4)
           || substr(lpad(to_hex(n & 1152921504606846975), 15, '0'), 1, 3) || '-'
           || substr(lpad(to_hex(n & 1152921504606846975), 15, '0'), 4, 12)
$$
"""

# Placeholder ciphertext of ``size`` bytes (AES-GCM's 28 bytes of nonce and tag included),
# different for each ``seed`` (its MD5 repeated: values this short are never compressed).
# Both functions are one expression, so the planner inlines them.
BLOB = """
CREATE OR REPLACE FUNCTION pg_temp.blob(seed text, size int) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(decode(repeat(md5(seed), 16), 'hex'), 1, size)
$$
"""

USERS = """
INSERT INTO users (id, email, role, is_active, language, display_name, created_at, updated_at)
SELECT 'agent-' || a, 'agent' || a || '@agency.co.il', 'agent', true, 'he', 'Agent ' || a,
       :now, :now
FROM generate_series(1, 10) AS a
UNION ALL
SELECT 'bench-admin', 'admin@agency.co.il', 'admin', true, 'he', 'Admin', :now, :now
ON CONFLICT DO NOTHING
"""

LEADS = """
INSERT INTO leads (id, name_enc, phone_enc, phone_index, phone_tokens_index, wa_id_enc,
                   wa_id_index, bsuid_enc, bsuid_index, profile_name_enc, email_enc,
                   email_index, language, source, stage, assigned_agent_id, engagement_score,
                   opted_in_at, opt_in_source, marketing_basis, marketing_basis_at,
                   marketing_basis_source, want_city, want_budget_max, closed_at,
                   created_at, updated_at)
SELECT pg_temp.uuid7(:ms, l, 1),
       pg_temp.blob('n' || l, 44), pg_temp.blob('p' || l, 41),
       md5('phone' || l), md5('phone' || l),
       pg_temp.blob('w' || l, 40), md5('wa_id' || l),
       CASE WHEN h % 2 = 0 THEN pg_temp.blob('b' || l, 58) END,
       CASE WHEN h % 2 = 0 THEN md5('bsuid' || l) END,
       pg_temp.blob('f' || l, 40),
       CASE WHEN (h >> 3) % 10 < 3 THEN pg_temp.blob('e' || l, 52) END,
       CASE WHEN (h >> 3) % 10 < 3 THEN md5('email' || l) END,
       CASE WHEN (h >> 7) % 5 = 0 THEN 'en' ELSE 'he' END,
       (ARRAY['web_form', 'portal', 'ad_referral', 'whatsapp', 'import', 'manual'])
           [1 + (h >> 11) % 6],
       s.stage,
       CASE WHEN (h >> 19) % 10 < 9 THEN 'agent-' || (1 + l % 10) END,
       ((h >> 23) % 101)::int,
       CASE WHEN (h >> 31) % 10 < 6 THEN created END,
       CASE WHEN (h >> 31) % 10 < 6 THEN 'web_form' END,
       CASE WHEN (h >> 31) % 10 < 6 THEN 'opt_in' END,
       CASE WHEN (h >> 31) % 10 < 6 THEN created END,
       CASE WHEN (h >> 31) % 10 < 6 THEN 'web_form' END,
       CASE WHEN (h >> 35) % 5 = 0 THEN
           (ARRAY['תל אביב', 'חיפה', 'ירושלים', 'רמת גן'])[1 + (h >> 38) % 4] END,
       CASE WHEN (h >> 35) % 5 = 0 THEN 1500000 + ((h >> 40) % 30) * 100000 END,
       CASE WHEN s.stage IN ('won', 'lost')
            THEN :now - ((h >> 44) % 2592000) * interval '1 second' END,
       created, created
FROM generate_series(CAST(:first_lead AS bigint), CAST(:last_lead AS bigint)) AS l,
     LATERAL (SELECT hashint8extended(l, 0) & 9223372036854775807 AS h) AS x,
     LATERAL (SELECT :now - interval '46 days' - ((h >> 47) % 2592000) * interval '1 second'
              AS created) AS c,
     LATERAL (SELECT CASE WHEN h % 100 < 30 THEN 'new'
                          WHEN h % 100 < 60 THEN 'contacted'
                          WHEN h % 100 < 72 THEN 'viewing_scheduled'
                          WHEN h % 100 < 80 THEN 'viewing_done'
                          WHEN h % 100 < 86 THEN 'negotiation'
                          WHEN h % 100 < 89 THEN 'contract'
                          WHEN h % 100 < 94 THEN 'won'
                          ELSE 'lost' END AS stage) AS s
"""

# The step's messages, worked out once (the statements below read them).
STEP_MESSAGES = "CREATE TEMP TABLE step_messages AS {rows}"

# Message ``i`` (of ``first_message`` … ``last_message``) goes to new lead
# ``first_lead + (i * 7919) mod new_leads`` (7919 is prime: every lead in turn), at a time
# rising with ``i`` over the last DAYS days; one in a thousand two years and a day earlier.
MESSAGE_ROWS = f"""
SELECT i, pg_temp.uuid7(:ms, i, 2) AS id,
       pg_temp.uuid7(:ms, :first_lead + (i * 7919) % (:last_lead - :first_lead + 1), 1)
           AS lead_id,
       h, h % 100 < 45 AS inbound,
       CASE WHEN i % 1000 = 7 THEN at - interval '731 days' ELSE at END AS at,
       'wamid.HBgMOTcy' || lpad(i::text, 12, '0') || substr(md5(i::text), 1, 24) || 'AA=='
           AS wamid,
       CASE WHEN h % 100 < 45 THEN 'received'
            WHEN (h >> 8) % 100 < 50 THEN 'read'
            WHEN (h >> 8) % 100 < 80 THEN 'delivered'
            WHEN (h >> 8) % 100 < 95 THEN 'sent'
            ELSE 'failed' END AS status
FROM generate_series(CAST(:first_message AS bigint), CAST(:last_message AS bigint)) AS i,
     LATERAL (SELECT hashint8extended(i, 1) & 9223372036854775807 AS h) AS x,
     LATERAL (SELECT :now - interval '{DAYS} days'
                     + ((i - :first_message) * {DAYS}::bigint * 86400
                        / (:last_message - :first_message + 1)) * interval '1 second'
              AS at) AS t
"""
STEP_MESSAGES = STEP_MESSAGES.format(rows=MESSAGE_ROWS)

MESSAGES = """
INSERT INTO messages (id, lead_id, direction, type, text_enc, payload_enc, template_name,
                      template_language, template_params_enc, category, wa_message_id,
                      status, status_at, sent_at, delivered_at, read_at, failed_at,
                      error_code, error_title, sent_by_id, attempts, throttled_attempts,
                      created_at, updated_at)
SELECT id, lead_id,
       CASE WHEN inbound THEN 'inbound' ELSE 'outbound' END, kind,
       CASE WHEN kind = 'text' THEN pg_temp.blob('t' || i, 40 + ((h >> 16) % 120)::int) END,
       CASE WHEN kind = 'image' THEN pg_temp.blob('m' || i, 160) END,
       template,
       CASE WHEN template IS NOT NULL THEN 'he' END,
       CASE WHEN template IS NOT NULL THEN pg_temp.blob('a' || i, 60) END,
       CASE WHEN template IS NOT NULL THEN 'marketing' END,
       wamid, status,
       coalesce(read_at, delivered_at, failed_at, sent_at, at), sent_at, delivered_at,
       read_at, failed_at,
       CASE WHEN status = 'failed' THEN (ARRAY[131026, 131049, 131047])[1 + i % 3] END,
       CASE WHEN status = 'failed' THEN 'Message undeliverable' END,
       CASE WHEN NOT inbound AND kind = 'text' THEN 'agent-' || (1 + (h >> 40) % 10) END,
       CASE WHEN inbound THEN 0 ELSE 1 END, 0,
       at, coalesce(read_at, delivered_at, failed_at, sent_at, at)
FROM step_messages AS m,
     LATERAL (SELECT CASE WHEN inbound AND (h >> 16) % 100 < 5 THEN 'image'
                          WHEN NOT inbound AND (h >> 16) % 100 < 60 THEN 'template'
                          ELSE 'text' END AS kind) AS k,
     LATERAL (SELECT CASE WHEN k.kind = 'template' THEN
                     (ARRAY['welcome_new_lead_he', 'welcome_new_lead_he',
                            'property_details_he', 'meeting_reminder_he',
                            'followup_interest_he'])[1 + (h >> 24) % 5] END AS template,
                     CASE WHEN NOT inbound AND status <> 'failed'
                          THEN at + interval '1 second' END AS sent_at,
                     CASE WHEN status IN ('delivered', 'read')
                          THEN at + interval '3 seconds' END AS delivered_at,
                     CASE WHEN status = 'read'
                          THEN at + ((h >> 28) % 7200) * interval '1 second' END AS read_at,
                     CASE WHEN status = 'failed'
                          THEN at + interval '1 second' END AS failed_at) AS o
"""

BODIES = """
INSERT INTO webhook_events (id, received_at, key_bucket, body_enc, body_size, status, attempts,
                            processed_at)
SELECT pg_temp.uuid7(:ms, i, 3), at, to_char(at AT TIME ZONE 'UTC', 'YYYYMMDDHH24') || '.bulk',
       pg_temp.blob('w' || i, 256), 900, 'processed', 1,
       at + ((i % 40) * interval '10 milliseconds')
FROM step_messages AS m
WHERE inbound
"""

BODY_LEADS = """
INSERT INTO webhook_event_leads (event_id, lead_id)
SELECT pg_temp.uuid7(:ms, i, 3), lead_id FROM step_messages AS m WHERE inbound
"""

APPLIED = """
INSERT INTO applied_items (dedupe_key, event_id, applied_at)
SELECT CASE WHEN inbound THEN 'message:' || wamid ELSE 'status:' || wamid || ':' || status END,
       CASE WHEN inbound THEN pg_temp.uuid7(:ms, i, 3) END, at + interval '3 seconds'
FROM step_messages AS m
"""

STATUSES = """
INSERT INTO status_events (wa_message_id, status, at, error_code, error_title, received_at,
                           applied)
SELECT wamid, status, at + interval '3 seconds',
       CASE WHEN status = 'failed' THEN (ARRAY[131026, 131049, 131047])[1 + i % 3] END,
       CASE WHEN status = 'failed' THEN 'Message undeliverable' END,
       at + interval '4 seconds', true
FROM step_messages AS m
WHERE NOT inbound
"""

LAST_INBOUND = """
UPDATE leads SET last_inbound_at = m.at
FROM (SELECT lead_id, max(created_at) AS at FROM messages
      WHERE direction = 'inbound' AND lead_id >= :first_id AND lead_id <= :last_id
      GROUP BY lead_id) AS m
WHERE leads.id = m.lead_id
"""

MEETINGS = """
INSERT INTO meetings (id, lead_id, agent_id, starts_at, duration_minutes, status, notes_enc,
                      created_at, updated_at)
SELECT pg_temp.uuid7(:ms, n, 4), id, assigned_agent_id,
       :now + ((hashint8extended(n, 2) & 1023) - 512) * interval '1 hour', 30,
       CASE WHEN stage = 'viewing_scheduled' THEN 'confirmed' ELSE 'done' END,
       pg_temp.blob('meet' || n, 60), created_at, created_at
FROM (SELECT id, assigned_agent_id, stage, created_at, row_number() OVER (ORDER BY id) AS n
      FROM leads WHERE id >= :first_id AND id <= :last_id
        AND stage NOT IN ('new', 'contacted', 'lost')) AS l
"""

CONSENT = """
INSERT INTO consent_events (id, lead_id, at, kind, category, channel, actor_label,
                            evidence_enc)
SELECT pg_temp.uuid7(:ms, n, 5), id, opted_in_at, 'opt_in', 'marketing', 'web_form',
       'import', pg_temp.blob('c' || n, 120)
FROM (SELECT id, opted_in_at, row_number() OVER (ORDER BY id) AS n
      FROM leads WHERE id >= :first_id AND id <= :last_id AND opted_in_at IS NOT NULL) AS l
"""

TABLES = (
    "leads",
    "messages",
    "webhook_events",
    "webhook_event_leads",
    "applied_items",
    "status_events",
    "meetings",
    "consent_events",
)


@dataclass(frozen=True)
class Size:
    """How many bulk leads and messages the database holds."""

    leads: int
    messages: int


@dataclass
class Step:
    """One growth: the seconds each statement took."""

    took: dict[str, float]

    @property
    def total(self) -> float:
        """Seconds for the whole step."""
        return sum(self.took.values())


def lead_id_sql(ms: int, number: int) -> str:
    """The id :data:`LEADS` gives lead ``number`` written at ``ms`` (as pg_temp.uuid7)."""
    h = f"{ms + number // 2000:012x}7001{8 + (number >> 60) % 4:x}{number & (2**60 - 1):015x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def grow(db: Database, have: Size, want: Size, now: datetime) -> Step:
    """Add the leads and messages that take the bulk from ``have`` to ``want`` (the new
    messages all go to the new leads), then vacuum and analyse the tables and mark the
    hours of the new messages for the key-figure jobs to count again.

    The rows' ids are stamped ``STAMP_BACK`` before ``now`` (but after the ``kpis.turns``
    job's last run less its grace, so that job's next run counts them): written long enough
    before that run that the key figures read them from what it kept, as on a live system
    whose job runs every minute, not live as the last minutes' writes."""
    if want.leads <= have.leads or want.messages <= have.messages:
        raise ValueError("a growth step adds leads and messages")
    ms = await _stamp(db, now)
    values = {
        "now": now,
        "ms": ms,
        "first_lead": have.leads + 1,
        "last_lead": want.leads,
        "first_message": have.messages + 1,
        "last_message": want.messages,
        "first_id": lead_id_sql(ms, have.leads + 1),
        "last_id": lead_id_sql(ms, want.leads),
    }
    took: dict[str, float] = {}
    async with db.engine.connect() as connection:
        await connection.execute(text("SET work_mem = '256MB'"))
        await connection.execute(text("SET maintenance_work_mem = '512MB'"))
        await connection.execute(text(UUID7))
        await connection.execute(text(BLOB))
        await connection.execute(text("DROP TABLE IF EXISTS step_messages"))
        await connection.commit()
        for name, statement in (
            ("users", USERS),
            ("leads", LEADS),
            ("message plan", STEP_MESSAGES),
            ("messages", MESSAGES),
            ("webhook bodies", BODIES),
            ("webhook body leads", BODY_LEADS),
            ("applied items", APPLIED),
            ("status events", STATUSES),
            ("last inbound", LAST_INBOUND),
            ("meetings", MEETINGS),
            ("consent", CONSENT),
        ):
            took[name] = await _timed(connection, statement, values)
            await connection.commit()
        await connection.execute(text("DROP TABLE step_messages"))
        await connection.commit()
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        began = time.perf_counter()
        await autocommit.execute(text(f"VACUUM ANALYZE {', '.join(TABLES)}"))
        took["vacuum analyze"] = time.perf_counter() - began
    began = time.perf_counter()
    async with db.session() as session:
        hours = [now - timedelta(hours=h) for h in range(DAYS * 24 + 2)]
        hours += [at - timedelta(days=731) for at in hours]
        await cohort_hours.mark_stale(session, hours)
        await webhook_hours.mark_stale(session, hours)
        await session.commit()
    took["hours marked"] = time.perf_counter() - began
    return Step(took)


STAMP_BACK = timedelta(minutes=11)


async def _stamp(db: Database, now: datetime) -> int:
    """Milliseconds since the epoch to stamp the step's ids with (see :func:`grow`)."""
    async with db.session() as session:
        progress = await session.get(ResponseTurnsProgress, response_turns.PROGRESS)
    at = now - STAMP_BACK
    if progress is not None:
        at = max(at, progress.done_until - response_turns.GRACE + timedelta(seconds=1))
    return int(at.timestamp() * 1000)


async def _timed(connection: AsyncConnection, statement: str, values: dict[str, object]) -> float:
    names = {name: value for name, value in values.items() if f":{name}" in statement}
    began = time.perf_counter()
    await connection.execute(text(statement), names)
    return time.perf_counter() - began
