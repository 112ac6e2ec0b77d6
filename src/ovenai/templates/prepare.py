"""Preparing a template send: choose the template, check it, fill it in.

A send names a family (``welcome_new_lead``) or an exact Meta name
(``welcome_new_lead_he``). The lead's language is chosen; when the family lacks it, the
other language is used (unless ``fallback=False``). Every check happens here, so a send
that Meta would refuse never leaves: nothing in this module calls Meta.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ovenai.models import MessageTemplate
from ovenai.templates.errors import InvalidTemplateParameter, TemplateNotApproved, TemplateNotFound
from ovenai.templates.text import (
    BODY_LIMIT,
    HEADER_LIMIT,
    Params,
    check_length,
    checked,
    component,
    filled,
    header_placeholders,
    placeholders,
    render,
)

FALLBACK_ORDER = ("he", "en")  # the agencies' two languages, Hebrew first
MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "LOCATION", "GIF"})
FILE_HEADERS = {"IMAGE": "image", "DOCUMENT": "document"}
"""Media headers a send fills with a listing's file (ovenai.property_files), by format."""


@dataclass(frozen=True)
class PreparedTemplate:
    """A checked template send: what to give the client and what the lead will read."""

    name: str
    language: str
    category: str
    body_params: list[str] | dict[str, str]
    header_params: list[str]
    rendered: str
    header_media: str | None = None  # "image" / "document": the header wants such a file
    header_file: str | None = None  # the listing file chosen for it (ovenai.outbox.queue)


async def prepare_send(
    session: AsyncSession,
    *,
    waba_id: str,
    template: str,
    language: str,
    params: Params,
    header_params: Sequence[str] | None = None,
    fallback: bool = True,
) -> PreparedTemplate:
    """Choose the template for the lead's language and check its parameters.

    Raises TemplateNotFound (422), TemplateNotApproved (409) or
    InvalidTemplateParameter (422); nothing reaches Meta.
    """
    row = await choose(
        session, waba_id=waba_id, template=template, language=language, fallback=fallback
    )
    return prepared(row, params, header_params or [])


async def choose(
    session: AsyncSession, *, waba_id: str, template: str, language: str, fallback: bool = True
) -> MessageTemplate:
    """The registry row a send of ``template`` to a lead speaking ``language`` uses."""
    rows = await _candidates(session, waba_id, template)
    if not rows:
        raise TemplateNotFound(template)
    best = min(rows, key=lambda row: _rank(row, language))
    if _language_rank(best.language, language) > 1 and not fallback:
        raise TemplateNotFound(template, language)
    if best.status.upper() != "APPROVED":
        raise TemplateNotApproved(best.name, best.language, best.status.upper())
    return best


async def _candidates(session: AsyncSession, waba_id: str, template: str) -> list[MessageTemplate]:
    """Rows with this exact name; failing that, the rows of this family."""
    for column in (MessageTemplate.name, MessageTemplate.family):
        query = select(MessageTemplate).where(
            MessageTemplate.waba_id == waba_id, column == template
        )
        rows = list(await session.scalars(query))
        if rows:
            return rows
    return []


def base_language(language: str) -> str:
    """The language of a code without its region: ``en`` for ``en_US``, ``he`` for ``iw``."""
    base = language.lower().replace("-", "_").split("_")[0]
    return "he" if base == "iw" else base


def _language_rank(have: str, wanted: str) -> int:
    """0: the same code; 1: the same language (``en_US`` for ``en``); 2: another one."""
    if have == wanted:
        return 0
    return 1 if base_language(have) == base_language(wanted) else 2


def _rank(row: MessageTemplate, wanted: str) -> tuple[int, bool, int, str]:
    base = base_language(row.language)
    preference = FALLBACK_ORDER.index(base) if base in FALLBACK_ORDER else len(FALLBACK_ORDER)
    return (
        _language_rank(row.language, wanted),
        row.status.upper() != "APPROVED",
        preference,
        row.name,
    )


def prepared(
    row: MessageTemplate, params: Params, header_params: Sequence[str]
) -> PreparedTemplate:
    """Check ``params`` against the row's placeholders and Meta's rules; fill it in."""
    components: list[Mapping[str, Any]] = list(row.components)
    _refuse_unsupported(row.name, components)
    names = placeholders(components)
    body = checked(row.name, names, params, field="params", limit=BODY_LIMIT)
    header_names = header_placeholders(components)
    header = checked(
        row.name, header_names, header_params, field="header_params", limit=HEADER_LIMIT
    )
    header_text = filled(components, "HEADER", header)
    check_length(row.name, header_text, header, field="header_params", limit=HEADER_LIMIT)
    check_length(row.name, filled(components, "BODY", body), body, field="params", limit=BODY_LIMIT)
    return PreparedTemplate(
        name=row.name,
        language=row.language,
        category=row.category,
        body_params=_as_sent(names, body),
        header_params=[header[name] for name in header_names],
        rendered=render(components, body, [header[name] for name in header_names]),
        header_media=file_header(components),
    )


def file_header(components: Sequence[Mapping[str, Any]]) -> str | None:
    """``image`` or ``document`` when the template's header carries such a file, else None."""
    header = component(list(components), "HEADER")
    return FILE_HEADERS.get(str((header or {}).get("format", "TEXT")).upper())


def _as_sent(names: list[str], values: dict[str, str]) -> list[str] | dict[str, str]:
    """Positional templates take a list in ``{{1}}, {{2}}`` order; named ones a mapping."""
    if all(name.isdigit() for name in names):
        return [values[name] for name in sorted(names, key=int)]
    return {name: values[name] for name in names}


def _refuse_unsupported(template: str, components: list[Mapping[str, Any]]) -> None:
    """Video, GIF and location headers and dynamic URL buttons need parameters a send cannot
    carry yet (an image or document header takes a listing's file)."""
    header = component(components, "HEADER")
    fmt = str((header or {}).get("format", "TEXT")).upper()
    if fmt in MEDIA_HEADERS and fmt not in FILE_HEADERS:
        problem = f"is a {fmt.lower()} header, which template sends cannot fill yet"
        raise InvalidTemplateParameter(template, "header", problem, field="header_params")
    buttons = component(components, "BUTTONS")
    for button in (buttons or {}).get("buttons") or ():
        if str(button.get("type", "")).upper() == "URL" and "{{" in str(button.get("url", "")):
            problem = "is a URL button with a placeholder, which sends cannot fill yet"
            raise InvalidTemplateParameter(template, "button", problem, field="buttons")
