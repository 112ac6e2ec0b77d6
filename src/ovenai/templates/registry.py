"""The registry's rows: families, one upsert for every source, listing and the seed.

On Meta each language of a template is a template of its own (``welcome_new_lead_he``,
``welcome_new_lead_en``); OvenAI groups them into one family (``welcome_new_lead``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.models import MessageTemplate

_LANGUAGE_SUFFIX = re.compile(r"_(he|en|iw|en_US|en_GB|he_IL)$")


def family_of(name: str) -> str:
    """The family a Meta template name belongs to (its name without a language suffix)."""
    return _LANGUAGE_SUFFIX.sub("", name)


@dataclass(frozen=True)
class Definition:
    """What Meta knows of one template of one WABA (from a listing, a file or the seed)."""

    name: str
    language: str
    category: str
    status: str
    components: list[dict[str, Any]]
    parameter_format: str = "POSITIONAL"
    meta_id: str | None = None
    quality: str | None = None

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any], *, status: str) -> Definition:
        """Read ``{name, language, category, components, parameter_format?}``."""
        return cls(
            name=str(item["name"]),
            language=str(item["language"]),
            category=str(item["category"]).upper(),
            status=status,
            components=[dict(c) for c in item["components"]],
            parameter_format=str(item.get("parameter_format") or "POSITIONAL").upper(),
        )

    def fields(self) -> dict[str, Any]:
        """The row's columns this definition sets."""
        values: dict[str, Any] = {
            "family": family_of(self.name),
            "category": self.category,
            "status": self.status,
            "components": self.components,
            "parameter_format": self.parameter_format,
        }
        if self.meta_id:
            values["meta_id"] = self.meta_id
        if self.quality:
            values["quality"] = self.quality
        return values


async def rows_of(session: AsyncSession, waba_id: str) -> dict[tuple[str, str], MessageTemplate]:
    """The WABA's rows keyed by (name, language)."""
    query = select(MessageTemplate).where(MessageTemplate.waba_id == waba_id)
    return {(row.name, row.language): row for row in await session.scalars(query)}


def merge(
    session: AsyncSession,
    existing: MessageTemplate | None,
    waba_id: str,
    definition: Definition,
    *,
    from_meta: bool = True,
) -> str:
    """Write a definition into its row (made when missing): "added", "updated" or "unchanged".

    ``synced_at`` records when Meta last confirmed the row (not set for the seed).
    """
    fields = definition.fields()
    synced = {"synced_at": utcnow()} if from_meta else {}
    if existing is None:
        row = MessageTemplate(waba_id=waba_id, name=definition.name, language=definition.language)
        session.add(row)
        _assign(row, fields | synced)
        return "added"
    changed = {key: value for key, value in fields.items() if getattr(existing, key) != value}
    _assign(existing, changed | synced)
    return "updated" if changed else "unchanged"


def _assign(row: MessageTemplate, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)


async def list_templates(db: Database, *, waba_id: str | None = None) -> list[MessageTemplate]:
    """Every registry row (of one WABA when given), by WABA, family and language."""
    query = select(MessageTemplate).order_by(
        MessageTemplate.waba_id, MessageTemplate.family, MessageTemplate.language
    )
    if waba_id is not None:
        query = query.where(MessageTemplate.waba_id == waba_id)
    async with db.reading() as session:
        return list(await session.scalars(query))


def seed_definitions() -> list[Definition]:
    """The eight seed templates shipped in ``ovenai/data/seed_templates.json``."""
    text = resources.files("ovenai").joinpath("data/seed_templates.json").read_text("utf-8")
    items: Sequence[Mapping[str, Any]] = json.loads(text)
    return [Definition.from_mapping(item, status=str(item["status"])) for item in items]


async def load_seed(session: AsyncSession, *, waba_id: str) -> int:
    """Add the seed templates the WABA lacks (the caller commits); returns how many."""
    existing = await rows_of(session, waba_id)
    added = 0
    for definition in seed_definitions():
        if (definition.name, definition.language) not in existing:
            merge(session, None, waba_id, definition, from_meta=False)
            added += 1
    await session.flush()
    return added
