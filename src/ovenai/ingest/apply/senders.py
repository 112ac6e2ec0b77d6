"""Who wrote to us: a WhatsApp user identity matched to a lead, or made into one.

Matching order: BSUID, then ``wa_id``, then the phone number behind the ``wa_id``; all
through blind indexes, so nothing is decrypted to find a lead. An identifier is written
onto a lead only when no other lead holds it (the indexes are unique); a clash is left
for a human, never resolved by moving identifiers between people.

Two ways, one set of rules. One item at a time (:func:`lead_for_sender`, ORM objects): for
identity changes and preferences. A run of inbound messages at once (:class:`SenderBook`):
one SELECT of every lead holding any of the run's identifiers, then each message matched,
refreshed or made a lead in memory in document order (an identifier taken by an earlier
message of the run is held from then on, so a new sender who writes twice is one lead), then
the run's keys fetched or created in one call each, new leads inserted and changed leads
updated with one statement per shape. Within a run identifiers are only ever added, never
given up (number and BSUID changes are items of their own, between runs), so no write of the
run can meet a unique index another write of the run still holds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ovenai import bulk_sql, dialects, phones
from ovenai.columns import new_id, utcnow
from ovenai.events import AdReferral, UserIdentity
from ovenai.keystore import Vault
from ovenai.leads import (
    find_by_identity,
    identity_columns,
    name_token_rows,
    seal_identity,
    set_many_name_tokens,
    set_name_tokens,
)
from ovenai.models import Language, Lead, LeadNameToken, Source, Stage
from ovenai.sealing import LEADS, LeadColumn

log = logging.getLogger("ovenai.ingest.apply.senders")

_HEBREW = re.compile("[\u0590-\u05ff]")
_LATIN = re.compile("[A-Za-z]")
INDEXED = ("bsuid", "wa_id", "phone")
_LEADS = cast(Table, Lead.__table__)
_TOKENS = cast(Table, LeadNameToken.__table__)
_CHUNK = 500  # values per IN list
_PROFILE = ("username", "profile_name")


def guess_language(text: str | None) -> str:
    """Hebrew script → ``he``; Latin letters → ``en``; anything else → ``he`` (the default)."""
    if text and _HEBREW.search(text):
        return Language.HE
    if text and _LATIN.search(text):
        return Language.EN
    return Language.HE


def identifiers(identity: UserIdentity) -> dict[LeadColumn, str | None]:
    """The indexed identifiers of a sender: BSUID, wa_id and the E.164 phone behind it."""
    phone = phones.from_wa_id(identity.wa_id) if identity.wa_id else None
    return {"bsuid": identity.user_id, "wa_id": identity.wa_id, "phone": phone}


@dataclass(frozen=True, slots=True)
class FirstContact:
    """What a new lead learns from its first message."""

    at: datetime
    text: str | None = None
    referral: AdReferral | None = None


async def find_sender(session: AsyncSession, vault: Vault, identity: UserIdentity) -> Lead | None:
    """The lead behind a sender, by BSUID, then wa_id, then phone."""
    found = identifiers(identity)
    return await find_by_identity(
        session, vault, bsuid=found["bsuid"], wa_id=found["wa_id"], phone=found["phone"]
    )


async def lead_for_sender(
    session: AsyncSession, vault: Vault, identity: UserIdentity, first: FirstContact
) -> Lead:
    """The sender's lead, its identity refreshed; a new WhatsApp (or ad) lead if unknown."""
    lead = await find_sender(session, vault, identity)
    if lead is None:
        return await create_sender_lead(session, vault, identity, first)
    await refresh_identity(session, vault, lead, identity)
    return lead


async def create_sender_lead(
    session: AsyncSession, vault: Vault, identity: UserIdentity, first: FirstContact
) -> Lead:
    """Create the lead of a first-time sender (source, name and language from the message)."""
    source = Source.AD_REFERRAL if first.referral is not None else Source.WHATSAPP
    lead = Lead(id=new_id(), source=source, language=guess_language(first.text))
    key = await vault.new_lead_key(lead.id)
    session.add(lead)
    values: dict[LeadColumn, str | None] = {k: v for k, v in identifiers(identity).items() if v}
    values |= {"name": identity.profile_name, "profile_name": identity.profile_name}
    values["username"] = identity.username
    seal_identity(vault, lead, key, values)
    await session.flush()
    await set_name_tokens(session, vault, lead.id, identity.profile_name)
    return lead


async def refresh_identity(
    session: AsyncSession, vault: Vault, lead: Lead, identity: UserIdentity
) -> None:
    """Write the sender's newer identifiers and profile onto the lead (never clears one)."""
    wanted = identifiers(identity)
    if _left_number(vault, lead, identity):
        # A message from the number the lead left (delivered late): its BSUID is the old
        # number's, and a BSUID comes first when sending (outbox.rules.recipient_of).
        wanted["bsuid"] = None
    changed = await _free_changes(session, vault, lead, wanted)
    key = await vault.key("lead", lead.id)
    for name in ("username", "profile_name"):
        value = getattr(identity, name)
        if value and LEADS.open_from(lead, key, name) != value:
            changed[name] = value
    if lead.name_enc is None and identity.profile_name:
        changed["name"] = identity.profile_name
        await set_name_tokens(session, vault, lead.id, identity.profile_name)
    if changed:
        seal_identity(vault, lead, key, changed)


def _left_number(vault: Vault, lead: Lead, identity: UserIdentity) -> bool:
    """Whether the sender writes from another number than the lead's current wa_id."""
    if identity.wa_id is None or lead.wa_id_index is None:
        return False
    return vault.index("wa_id", identity.wa_id) != lead.wa_id_index


async def change_number(session: AsyncSession, vault: Vault, lead: Lead, wa_id: str) -> bool:
    """Move the lead to the number a ``system`` message names; False if it is not moved.

    Replies go to the new wa_id whether or not it parses as a phone number. The phone
    follows when it does; when it does not, the phone stays for the agent to see (the old
    number may still take calls) but is never written to again: the wa_id comes before it
    (outbox.rules.recipient_of). The old number's BSUID is dropped, as Meta gives a user a
    new BSUID with a new number (Cloud API › Business-scoped user IDs) and a BSUID comes
    first; the new one comes with the system message or with the user's next message.
    """
    index = vault.index("wa_id", wa_id)
    if lead.wa_id_index == index:  # already moved: the change was announced twice
        return False
    if await _held_by_other(session, "wa_id", index, lead.id):
        log.warning("lead %s: a wa_id clashes with another lead; left unchanged", lead.id)
        return False
    wanted: dict[LeadColumn, str | None] = {"phone": phones.from_wa_id(wa_id)}
    changes = await _free_changes(session, vault, lead, wanted, replace=True)
    changes |= {"wa_id": wa_id, "bsuid": None}
    seal_identity(vault, lead, await vault.key("lead", lead.id), changes)
    return True


async def change_bsuid(session: AsyncSession, vault: Vault, lead: Lead, bsuid: str) -> bool:
    """Replace the lead's BSUID after a ``system`` message; False if another lead has it."""
    changes = await _free_changes(session, vault, lead, {"bsuid": bsuid}, replace=True)
    if not changes:
        return False
    seal_identity(vault, lead, await vault.key("lead", lead.id), changes)
    return True


async def _free_changes(
    session: AsyncSession,
    vault: Vault,
    lead: Lead,
    wanted: dict[LeadColumn, str | None],
    *,
    replace: bool = False,
) -> dict[LeadColumn, str | None]:
    """The identifiers that differ from the lead's and that no other lead holds.

    Without ``replace`` only missing identifiers are filled (a lead found by phone gains its
    wa_id and BSUID); with it, present ones are replaced too (the user changed number).
    """
    changes: dict[LeadColumn, str | None] = {}
    for kind, value in wanted.items():
        if not value:
            continue
        index = vault.index(kind, value)
        current = getattr(lead, f"{kind}_index")
        if current == index or (current is not None and not replace):
            continue
        if await _held_by_other(session, kind, index, lead.id):
            log.warning("lead %s: a %s clashes with another lead; left unchanged", lead.id, kind)
            continue
        changes[kind] = value
    return changes


async def _held_by_other(session: AsyncSession, kind: str, index: str, lead_id: str) -> bool:
    column = getattr(Lead, f"{kind}_index")
    query = select(func.count()).where(column == index, Lead.id != lead_id)
    return bool(await session.scalar(query))


# ------------------------------------------------------------------ a run of messages at once


@dataclass(eq=False, slots=True)
class SenderLead:
    """A lead as a run of inbound messages finds and changes it (written by the book)."""

    id: str
    new: bool
    indexes: dict[str, str | None]
    """The blind index of each identifier (:data:`INDEXED`) as it stands in this run."""
    named: bool
    last_inbound_at: datetime | None
    stored: dict[str, bytes | None] = field(default_factory=dict)
    """A known lead's sealed username and profile name as read (opened once, if needed)."""
    changes: dict[LeadColumn, str | None] = field(default_factory=dict)
    """Personal fields to seal: a new lead's all, a known lead's additions."""
    latest: dict[str, str] = field(default_factory=dict)
    """The newest username and profile name its messages gave."""
    newest: datetime | None = None
    source: str = Source.WHATSAPP
    language: str = Language.HE
    met: bool = False
    """Matched by a message of this run (not only loaded because it holds an identifier)."""

    def wrote_at(self, at: datetime) -> None:
        """A message of the run was written at ``at`` (the 24-hour window follows the newest)."""
        if self.newest is None or at > self.newest:
            self.newest = at


class SenderBook:
    """The senders of one run of inbound messages, matched to leads in memory.

    :meth:`load` reads every lead holding an identifier of the run; :meth:`lead_for` then
    applies the rules of :func:`lead_for_sender` message by message without a query;
    :meth:`unlock` fetches the keys of the leads met and creates the new leads' keys;
    :meth:`write` stores what changed. :attr:`keys` then seals the run's messages.
    """

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.keys: dict[str, bytes] = {}
        self._holders: dict[tuple[str, str], SenderLead] = {}
        self._met: dict[str, SenderLead] = {}
        self._indexes: dict[tuple[str, str], str] = {}
        self._identifiers: dict[UserIdentity, dict[str, str | None]] = {}
        self._storing: asyncio.Task[None] | None = None

    def _index(self, kind: str, value: str) -> str:
        found = self._indexes.get((kind, value))
        if found is None:
            found = self._indexes[(kind, value)] = self.vault.index(kind, value)
        return found

    def _ids(self, identity: UserIdentity) -> dict[str, str | None]:
        found = self._identifiers.get(identity)
        if found is None:
            found = self._identifiers[identity] = {k: v for k, v in identifiers(identity).items()}
        return found

    async def load(self, session: AsyncSession, identities: Iterable[UserIdentity]) -> None:
        """Read the leads that hold any identifier of these senders (one SELECT)."""
        wanted: dict[str, set[str]] = {kind: set() for kind in INDEXED}
        for identity in identities:
            for kind, value in self._ids(identity).items():
                if value:
                    wanted[kind].add(self._index(kind, value))
        lists = {kind: sorted(values) for kind, values in wanted.items()}
        longest = max(len(values) for values in lists.values())
        query = _holding(bulk_sql.postgresql(session))
        for start in range(0, longest, _CHUNK):
            chunk = {kind: values[start : start + _CHUNK] for kind, values in lists.items()}
            for row in (await session.execute(query, chunk)).all():
                self._hold(_known(row))

    def _hold(self, lead: SenderLead) -> None:
        for kind, index in lead.indexes.items():
            if index is not None:
                self._holders[(kind, index)] = lead

    def lead_for(self, identity: UserIdentity, first: FirstContact) -> SenderLead:
        """The sender's lead, refreshed in memory; a new lead if no one holds its identifiers."""
        wanted = self._ids(identity)
        for kind in INDEXED:
            value = wanted[kind]
            lead = self._holders.get((kind, self._index(kind, value))) if value else None
            if lead is not None:
                self._refresh(lead, identity, wanted)
                break
        else:
            lead = self._create(identity, wanted, first)
        if not lead.met:
            lead.met = True
            self._met[lead.id] = lead
        return lead

    def _create(
        self, identity: UserIdentity, wanted: dict[str, str | None], first: FirstContact
    ) -> SenderLead:
        """As :func:`create_sender_lead`, in memory."""
        lead = SenderLead(
            id=new_id(),
            new=True,
            indexes={k: self._index(k, v) if v else None for k, v in wanted.items()},
            named=bool(identity.profile_name),
            last_inbound_at=None,
            source=Source.AD_REFERRAL if first.referral is not None else Source.WHATSAPP,
            language=guess_language(first.text),
        )
        lead.changes = {cast(LeadColumn, k): v for k, v in wanted.items() if v}
        lead.changes |= {"name": identity.profile_name, "profile_name": identity.profile_name}
        lead.changes["username"] = identity.username
        self._hold(lead)
        return lead

    def _refresh(
        self, lead: SenderLead, identity: UserIdentity, wanted: dict[str, str | None]
    ) -> None:
        """As :func:`refresh_identity`, in memory: identifiers compared by blind index."""
        left = wanted["wa_id"] is not None and lead.indexes["wa_id"] not in (
            None,
            self._index("wa_id", wanted["wa_id"]),
        )
        for kind in INDEXED:
            value = wanted[kind]
            if not value or lead.indexes[kind] is not None or (kind == "bsuid" and left):
                continue  # absent, already the lead's (never replaced here), or the old number's
            index = self._index(kind, value)
            holder = self._holders.get((kind, index))
            if holder is not None and holder is not lead:
                log.warning(
                    "lead %s: a %s clashes with another lead; left unchanged", lead.id, kind
                )
                continue
            lead.indexes[kind] = index
            lead.changes[cast(LeadColumn, kind)] = value
            self._holders[(kind, index)] = lead
        for name in _PROFILE:
            value = getattr(identity, name)
            if value:
                lead.latest[name] = value
        if not lead.named and identity.profile_name:
            lead.named = True
            lead.changes["name"] = identity.profile_name

    async def unlock(self) -> None:
        """Fetch the keys of the known leads met (one query for those not cached) and make
        the new leads' keys, stored meanwhile in one key-store transaction (:meth:`stored`)."""
        known = [lead.id for lead in self._met.values() if not lead.new]
        new = [lead.id for lead in self._met.values() if lead.new]
        if new:
            made, self._storing = self.vault.start_new_lead_keys(new)
            self.keys.update(made)
        if known:
            self.keys.update(await self.vault.lead_keys(known))

    async def stored(self) -> None:
        """Wait until the new leads' keys are stored: before anything sealed with them can
        commit (the caller's transaction) or be read back (hooks)."""
        if self._storing is not None:
            await self._storing

    def abandon(self) -> None:
        """The run failed: let the keys' storing finish alone (a key without a lead is
        harmless), its outcome collected so that it is not reported as lost."""
        if self._storing is not None:
            self._storing.add_done_callback(_collected)

    async def write(self, session: AsyncSession) -> None:
        """Insert the new leads and their name tokens, update the known leads that changed."""
        rows: list[dict[str, Any]] = []
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        names: dict[str, str | None] = {}
        now = utcnow()
        for lead in self._met.values():
            self._settle_profile(lead)
            columns = identity_columns(self.vault, lead.id, self.keys[lead.id], lead.changes)
            if "name" in lead.changes:
                names[lead.id] = lead.changes["name"]
            if lead.new:
                rows.append(_new_row(lead, columns, now))
                continue
            if lead.newest is not None and (
                lead.last_inbound_at is None or lead.newest > lead.last_inbound_at
            ):
                columns["last_inbound_at"] = lead.newest
            if columns:
                columns["updated_at"] = now
                shape = tuple(sorted(columns))
                changed.setdefault(shape, []).append({"id": lead.id, **columns})
        if rows:
            await session.execute(insert(_LEADS), rows)
        for updates in changed.values():  # mostly one shape: the last inbound time alone
            await bulk_sql.update_many(session, _LEADS, updates, forward=_FORWARD)
        new_names = {k: v for k, v in names.items() if self._met[k].new}
        tokens = name_token_rows(self.vault, new_names)
        await bulk_sql.insert_many(session, _TOKENS, tokens, skip_taken=False)
        renamed = {k: v for k, v in names.items() if not self._met[k].new}
        await set_many_name_tokens(session, self.vault, renamed)

    def _settle_profile(self, lead: SenderLead) -> None:
        """The newest username and profile name, where they differ from what is stored."""
        if lead.new:
            lead.changes.update(cast(dict[LeadColumn, str], lead.latest))
            return
        cipher = LEADS.cipher(self.keys[lead.id], lead.id)
        for name, value in lead.latest.items():
            column = cast(LeadColumn, name)
            if cipher.open(column, lead.stored[name]) != value:
                lead.changes[column] = value


# Written as the greater of the stored and the run's value (another process may have applied
# a newer message of the lead since this run read it).
_FORWARD = frozenset({"last_inbound_at"})


async def move_window(session: AsyncSession, lead: Lead, at: datetime) -> None:
    """Open (or extend) a loaded lead's 24-hour window to a message written ``at``: its last
    inbound time only ever moves forward, in the database too (as :meth:`SenderBook.write`
    writes a run's), where another process may have moved it on since this one read the
    lead. The row is written now, the loaded lead given the time as stored."""
    if lead.last_inbound_at is not None and at <= lead.last_inbound_at:
        return
    row = {"id": lead.id, "last_inbound_at": at, "updated_at": utcnow()}
    await bulk_sql.update_many(session, _LEADS, [row], forward=_FORWARD)
    set_committed_value(lead, "last_inbound_at", at)


_READ = (
    _LEADS.c.id,
    _LEADS.c.bsuid_index,
    _LEADS.c.wa_id_index,
    _LEADS.c.phone_index,
    _LEADS.c.name_enc.is_not(None).label("named"),
    _LEADS.c.username_enc,
    _LEADS.c.profile_name_enc,
    _LEADS.c.last_inbound_at,
)


def _collected(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("storing new leads' keys failed after their batch failed: %s", task.exception())


@functools.cache
def _holding(postgresql: bool) -> Select[Any]:
    """The leads holding any of the listed blind indexes (``bsuid``, ``wa_id``, ``phone``)."""
    held = [
        dialects.one_of_parameter(_LEADS.c[f"{kind}_index"], kind, postgresql=postgresql)
        for kind in INDEXED
    ]
    return select(*_READ).where(or_(*held))


def _known(row: Any) -> SenderLead:
    return SenderLead(
        id=row.id,
        new=False,
        indexes={"bsuid": row.bsuid_index, "wa_id": row.wa_id_index, "phone": row.phone_index},
        named=bool(row.named),
        last_inbound_at=row.last_inbound_at,
        stored={"username": row.username_enc, "profile_name": row.profile_name_enc},
    )


def _new_row(lead: SenderLead, columns: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Every column of a new lead's row (one shape for all, as an executemany wants)."""
    row: dict[str, Any] = dict.fromkeys(LEADS.stored.values())
    row |= dict.fromkeys(("bsuid_index", "wa_id_index", "phone_index", "username_index"))
    row |= columns
    row |= {
        "id": lead.id,
        "source": lead.source,
        "language": lead.language,
        "stage": Stage.NEW,
        "engagement_score": 0,
        "last_inbound_at": lead.newest,
        "created_at": now,
        "updated_at": now,
    }
    return row
