"""A lead's consent as agents and the API see and change it (``/api/v1/leads/{id}/consent``,
``ovenai leads consent``, the lead page): its state, basis and ledger, and an agent's or
the API's opt-in, opt-out or basis, always with the words the lead saw or wrote.

The ledger and the rules are :mod:`ovenai.consent`'s; this service adds who may (the
lead's visibility, :func:`ovenai.leads.load_visible`), the row lock against a concurrent
erasure, and the audit entry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ovenai import audit, consent
from ovenai.auth import Actor
from ovenai.db import Database
from ovenai.lead_fields import ConsentWords, MarketingBasis
from ovenai.leads import load_visible


class ConsentChange(BaseModel):
    """An opt-in, an opt-out or a basis recorded by an agent or the API.

    ``words``: what the lead wrote or was shown (an opt-in's agreement, the refusal notice
    of an inquiry); required for an opt-in and for setting a basis. ``basis`` with
    ``action: basis``; null clears it (marketing stops until a new one is recorded).
    """

    model_config = ConfigDict(extra="forbid")

    action: Literal["opt_in", "opt_out", "basis"]
    basis: MarketingBasis | None = None
    words: ConsentWords | None = None

    @model_validator(mode="after")
    def _complete(self) -> ConsentChange:
        if self.action != "basis" and self.basis is not None:
            raise ValueError("basis belongs to action basis")
        if self.words is None and (
            self.action == "opt_in" or (self.action == "basis" and self.basis is not None)
        ):
            raise ValueError("words are required: what the lead wrote or was shown")
        return self


async def show(
    db: Database, *, actor: Actor, lead_id: str, audited: bool = True
) -> consent.ConsentState:
    """A lead's consent state and ledger (words decrypted); NotFound/Gone as for the lead.
    Audited as a view unless the caller's page audits its own (the lead page)."""
    async with db.session() as session:
        lead = await load_visible(session, actor, lead_id)
        state = await consent.state_of(session, db.vault, lead)
        if not audited:
            return state
        audit.record(
            session,
            actor=actor,
            action="view",
            subject_type="lead",
            subject_id=lead.id,
            details={"what": "consent"},
        )
        await session.commit()
    return state


async def change(
    db: Database,
    *,
    actor: Actor,
    lead_id: str,
    request: ConsentChange,
    source: consent.Source = consent.Source.AGENT,
) -> consent.ConsentState:
    """Record an agent's or the API's consent change in the ledger and apply it."""
    async with db.session() as session:
        lead = await load_visible(session, actor, lead_id, for_update=True)
        basis = consent.Basis(request.basis) if request.basis else None
        await consent.record(
            session,
            db.vault,
            lead,
            kind=consent.Kind(request.action),
            source=source,
            words=request.words,
            actor=actor.email,
            basis=basis,
        )
        audit.record(
            session,
            actor=actor,
            action="update",
            subject_type="lead",
            subject_id=lead.id,
            details={"consent": request.action, "basis": request.basis},
        )
        await session.flush()
        state = await consent.state_of(session, db.vault, lead)
        await session.commit()
    return state
