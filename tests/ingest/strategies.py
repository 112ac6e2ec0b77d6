"""Webhook bodies for property tests: sound batches, and the same batch with one part broken.

A sound batch (:func:`batches`) has one to three entries (one WABA each), each with one to
three changes: ``messages`` changes (text, image, location, reaction, interactive and
button messages from phone, username and dual users, sometimes with statuses),
``statuses``-only changes (sent with pricing, delivered, read, failed with Meta's error),
``user_preferences`` changes and ``message_template_status_update`` changes. Every id is
unique, so every item has its own dedupe key.

:func:`broken_batches` damages ONE part of a sound batch (an entry, a change, a message, a
status or a user preference) in one of the ways Meta's schema allows (Webhooks ›
Reference): a key missing, ``null``, of another JSON type, an empty list, an unknown enum
value, a number spelled as a string (or back). :data:`CATALOGUE` lists every damage with
what the parser must make of it (:class:`Outcome`).

:func:`expected_events` is the oracle: the (path, kind, dedupe key) of every event a body
must yield, in document order, from the documented key recipes
(:mod:`ovenai.ingest.parse.dedupe_keys`). Parser tests compare ``parse_webhook`` with it; a
database test can deliver ``Broken.body`` and check that every expected item was applied
exactly once.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hypothesis import strategies as st

from ovenai.ingest.parse.dedupe_keys import (
    content_key,
    message_key,
    preference_key,
    status_key,
)

Json = Any
Step = str | int
WHATSAPP = "whatsapp_business_account"
TEMPLATE_FIELD = "message_template_status_update"
MESSAGE_KINDS = ("text", "image", "location", "reaction", "interactive", "button")
SENDERS = ("phone", "username", "both")
STATUS_KINDS = ("sent", "delivered", "read", "failed")
PREFERENCE_VALUES = ("stop", "resume")
TEMPLATE_EVENTS = ("APPROVED", "REJECTED", "PAUSED")
OUTBOUND = "wamid.HBgMOTcyNTIxMjM0NTY3FQIAERgSRkFLRU9VVEJPVU5EMDAwMDAy"


def encode(doc: Json) -> bytes:
    """The exact bytes of a document (and of each of its values, sliced out unchanged)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# ---------------------------------------------------------------- builders of sound parts


def message(n: int, kind: str, sender: str) -> dict[str, Json]:
    """One ``messages[]`` item of type ``kind`` from a phone, username or dual user."""
    item: dict[str, Json] = {**_sender_of(n, sender), "id": f"wamid.IN{n:06d}"}
    item |= {"timestamp": str(1767000000 + n), "type": kind, kind: _content(n, kind)}
    if kind in ("interactive", "button"):
        item["context"] = {"from": "97233760000", "id": OUTBOUND}
    return item


def _sender_of(n: int, sender: str) -> dict[str, str]:
    """``from`` (phone users), ``from_user_id`` (username users) or both."""
    keys = {"from": wa_id(n), "from_user_id": bsuid(n)}
    return {
        k: v for k, v in keys.items() if sender == "both" or (k == "from") == (sender == "phone")
    }


def wa_id(n: int) -> str:
    """The phone-number id of user ``n``."""
    return f"97252{n:07d}"


def bsuid(n: int) -> str:
    """The business-scoped user id of user ``n``."""
    return f"IL.{5550000000000000000 + n}"


def _content(n: int, kind: str) -> dict[str, Json]:
    """The type-named object of a message."""
    contents: dict[str, dict[str, Json]] = {
        "text": {"body": f"שלום, is flat {n} still free?"},
        "image": {"id": f"media.{n}", "mime_type": "image/jpeg", "caption": "the balcony"},
        "location": {"latitude": 32.0853, "longitude": 34.7818, "name": "Dizengoff Sq."},
        "reaction": {"message_id": OUTBOUND, "emoji": "👍"},
        "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
        "button": {"payload": "BOOK_VISIT", "text": "Book a visit"},
    }
    return contents[kind]


def status(n: int, kind: str) -> dict[str, Json]:
    """One ``statuses[]`` item about our outbound message ``n``."""
    item: dict[str, Json] = {"id": f"wamid.OUT{n:06d}", "status": kind}
    item |= {"timestamp": str(1767000000 + n), "recipient_id": wa_id(n)}
    if kind == "sent":
        item["conversation"] = {"id": f"conv{n}", "origin": {"type": "marketing"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "marketing"}
    if kind == "failed":
        error = {"code": 131026, "title": "Message undeliverable", "message": "undeliverable"}
        item["errors"] = [error | {"error_data": {"details": "Message Undeliverable."}}]
    return item


def preference(n: int, value: str) -> dict[str, Json]:
    """One ``user_preferences[]`` item: user ``n`` stopped or resumed marketing."""
    ids = {"wa_id": wa_id(n), "user_id": bsuid(n)}
    detail = "User requested to stop marketing messages"
    return (
        ids
        | {"detail": detail, "category": "marketing_messages", "value": value}
        | {"timestamp": 1767200000 + n}
    )


def template_value(n: int, event: str) -> dict[str, Json]:
    """The value of a ``message_template_status_update`` about template ``n``."""
    value: dict[str, Json] = {"event": event, "message_template_id": 880000000000000 + n}
    value |= {"message_template_name": f"followup_{n}", "message_template_language": "he"}
    value |= {"reason": "NONE", "message_template_category": "MARKETING"}
    if event == "REJECTED":
        value["rejection_info"] = {
            "reason": "Parameters side by side.",
            "recommendation": "Add text.",
        }
    return value


def messages_change(messages: Sequence[Json], statuses: Sequence[Json] = ()) -> Json:
    """A ``messages`` change carrying these messages (with their contacts) and statuses."""
    value: dict[str, Json] = {"messaging_product": "whatsapp", "metadata": METADATA}
    if messages:
        value["contacts"] = [_contact_of(m) for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"value": value, "field": "messages"}


METADATA = {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"}


def _contact_of(item: Json) -> Json:
    """The contact of a message's sender, with the ids the message names."""
    ids = {"wa_id": item.get("from"), "user_id": item.get("from_user_id")}
    return {"profile": {"name": "Lead"}} | {k: v for k, v in ids.items() if v}


def preferences_change(items: Sequence[Json]) -> Json:
    """A ``user_preferences`` change with its contacts."""
    contacts = [
        {"profile": {"name": "Lead"}, "wa_id": i["wa_id"], "user_id": i["user_id"]} for i in items
    ]
    value = {"messaging_product": "whatsapp", "metadata": METADATA, "contacts": contacts}
    return {"value": value | {"user_preferences": list(items)}, "field": "user_preferences"}


def template_change(n: int, event: str) -> Json:
    """A ``message_template_status_update`` change."""
    return {"value": template_value(n, event), "field": TEMPLATE_FIELD}


def entry(n: int, changes: Sequence[Json], *, timed: bool) -> Json:
    """An ``entry[]`` of WABA ``n``; template changes carry ``time``, messages often not."""
    item: dict[str, Json] = {"id": f"3100000000000{n:02d}", "changes": list(changes)}
    return item | ({"time": 1767100000 + n} if timed else {})


def envelope(entries: Sequence[Json]) -> Json:
    """The body: ``{"object": ..., "entry": [...]}``."""
    return {"object": WHATSAPP, "entry": list(entries)}


# ------------------------------------------------------------------ the sound batch model


@dataclass(frozen=True)
class Batch:
    """A webhook body as a document; ``body`` is what Meta would POST."""

    doc: Json

    @property
    def body(self) -> bytes:
        """The body's bytes."""
        return encode(self.doc)


ChangePlan = tuple[str, tuple[Any, ...]]


def _change_plans() -> st.SearchStrategy[ChangePlan]:
    """What one change carries: messages (and statuses), statuses, preferences or a template."""
    kinds = st.tuples(st.sampled_from(MESSAGE_KINDS), st.sampled_from(SENDERS))
    statuses = st.lists(st.sampled_from(STATUS_KINDS), max_size=2)
    return st.one_of(
        st.tuples(
            st.just("messages"), st.tuples(st.lists(kinds, min_size=1, max_size=3), statuses)
        ),
        st.tuples(
            st.just("statuses"),
            st.tuples(st.lists(st.sampled_from(STATUS_KINDS), min_size=1, max_size=3)),
        ),
        st.tuples(
            st.just("preferences"),
            st.tuples(st.lists(st.sampled_from(PREFERENCE_VALUES), min_size=1, max_size=2)),
        ),
        st.tuples(st.just("template"), st.tuples(st.sampled_from(TEMPLATE_EVENTS))),
    )


def _build_change(plan: ChangePlan, ids: Iterator[int]) -> Json:
    """Build one planned change, numbering every item from ``ids``."""
    kind, args = plan
    if kind == "messages":
        kinds, statuses = args
        return messages_change(
            [message(next(ids), k, s) for k, s in kinds], [status(next(ids), s) for s in statuses]
        )
    if kind == "statuses":
        return messages_change([], [status(next(ids), s) for s in args[0]])
    if kind == "preferences":
        return preferences_change([preference(next(ids), v) for v in args[0]])
    return template_change(next(ids), args[0])


@st.composite
def batches(draw: st.DrawFn, start: int = 1) -> Batch:
    """A sound multi-entry, multi-change batch; its items are numbered from ``start`` (a
    database test gives each example its own numbers, so no id is seen twice)."""
    plans = draw(
        st.lists(
            st.tuples(st.booleans(), st.lists(_change_plans(), min_size=1, max_size=3)),
            min_size=1,
            max_size=3,
        )
    )
    ids = itertools.count(start)
    entries = [
        entry(n, [_build_change(c, ids) for c in changes], timed=timed)
        for n, (timed, changes) in enumerate(plans, start=1)
    ]
    return Batch(envelope(entries))


def sample_batch(start: int = 1) -> Batch:
    """One fixed batch holding every kind of part and item (for exhaustive tests), its items
    numbered from ``start``."""
    ids = itertools.count(start)
    chat = [message(next(ids), k, s) for k in MESSAGE_KINDS for s in ("phone", "username")]
    dual = message(next(ids), "text", "both")
    first = [
        messages_change([*chat, dual], [status(next(ids), "delivered")]),
        messages_change([], [status(next(ids), s) for s in STATUS_KINDS]),
        preferences_change([preference(next(ids), v) for v in PREFERENCE_VALUES]),
        template_change(next(ids), "REJECTED"),
    ]
    second = [
        messages_change([message(next(ids), "text", "phone")]),
        template_change(next(ids), "APPROVED"),
    ]
    return Batch(envelope([entry(1, first, timed=True), entry(2, second, timed=False)]))


def small_batch(start: int = 1) -> Batch:
    """A fixed batch with every kind of part, each beside a sound sibling, from few users:
    what a database test delivers once per damage (each user is a lead, and costs)."""
    ids = itertools.count(start)
    chat = [message(next(ids), k, s) for k, s in (("text", "phone"), ("image", "username"))]
    first = [
        messages_change([*chat, message(next(ids), "button", "both")], [status(next(ids), "read")]),
        messages_change([], [status(next(ids), s) for s in ("sent", "failed")]),
        preferences_change([preference(next(ids), v) for v in PREFERENCE_VALUES]),
        template_change(next(ids), "REJECTED"),
    ]
    second = [
        messages_change([message(next(ids), "location", "phone")]),
        template_change(next(ids), "APPROVED"),
    ]
    return Batch(envelope([entry(1, first, timed=True), entry(2, second, timed=False)]))


# ------------------------------------------------------------------------------ the oracle


@dataclass(frozen=True)
class Expected:
    """One event a body must yield: its kind, its dedupe key (None for an unreadable part,
    whose key hashes its bytes), and where it comes from."""

    path: str
    kind: str
    key: str | None = None
    item: str | None = None


def path_of(where: Sequence[Step]) -> str:
    """``("entry", 0, "changes", 1)`` → ``$.entry[0].changes[1]``."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in where)


def expected_events(doc: Json, unreadable: Part | None = None) -> list[Expected]:
    """Every event ``doc`` must yield, in document order; ``unreadable`` yields one
    UnreadableItem in place of all it holds."""
    found: list[Expected] = []
    for i, item in enumerate(doc.get("entry") or []):
        found += _entry_events(item, ("entry", i), unreadable)
    return found


def _unreadable_here(where: tuple[Step, ...], unreadable: Part | None) -> Expected | None:
    """The UnreadableItem of the broken part, if ``where`` is it."""
    if unreadable is None or unreadable.where != where:
        return None
    return Expected(path_of(where), "UnreadableItem", item=unreadable.item)


def _entry_events(item: Json, where: tuple[Step, ...], broken: Part | None) -> list[Expected]:
    """The events of one entry."""
    if (odd := _unreadable_here(where, broken)) is not None:
        return [odd]
    time = item.get("time")
    facts = (str(item["id"]), None if time is None else int(time))
    found: list[Expected] = []
    for j, change in enumerate(item.get("changes") or []):
        found += _change_events(change, facts, (*where, "changes", j), broken)
    return found


def _change_events(
    change: Json, facts: tuple[str, int | None], where: tuple[Step, ...], broken: Part | None
) -> list[Expected]:
    """The events of one change: its items, or one event for an id-less change."""
    if (odd := _unreadable_here(where, broken)) is not None:
        return [odd]
    field_, value = change["field"], change["value"]
    if field_ in ("messages", "user_preferences"):
        return _item_events(value, where, broken)
    kind, prefix = (
        ("TemplateStatusUpdate", field_)
        if field_ == TEMPLATE_FIELD
        else (
            "IgnoredChange",
            f"ignored:{field_}",
        )
    )
    return [Expected(path_of(where), kind, content_key(prefix, *facts, encode(value)))]


def _item_events(value: Json, where: tuple[Step, ...], broken: Part | None) -> list[Expected]:
    """The events of the items of a messages-like change, in the parser's order."""
    keyed: list[tuple[str, str, Callable[[Json], str]]] = [
        ("messages", "InboundMessage", lambda m: message_key(m["id"])),
        ("statuses", "StatusUpdate", lambda s: status_key(s["id"], s["status"])),
        ("user_preferences", "UserPreference", lambda p: _preference_key(p, value)),
    ]
    found: list[Expected] = []
    for array, kind, key in keyed:
        for k, item in enumerate(value.get(array) or []):
            at = (*where, "value", array, k)
            found.append(_unreadable_here(at, broken) or Expected(path_of(at), kind, key(item)))
    return found


def _preference_key(item: Json, value: Json) -> str:
    """``user_preference:<BSUID or wa_id>:<category>:<value>:<unix time>``, the user joined
    with ``contacts[]`` as the parser joins them."""
    wa, user = item.get("wa_id"), item.get("user_id")
    contacts = value.get("contacts") or []
    match: dict[str, Json] = next(
        (
            c
            for c in contacts
            if (user and c.get("user_id") == user) or (wa and c.get("wa_id") == wa)
        ),
        {},
    )
    who = user or match.get("user_id") or wa or ""
    category, choice = item.get("category", ""), item.get("value", "")
    return preference_key(who, category, choice, int(item.get("timestamp", 0)))


# ---------------------------------------------------------------------------- the damages


class Outcome(Enum):
    """What the parser must make of a damaged part."""

    SAME = "same"  # read leniently: the body yields exactly the sound body's events
    READ = "read"  # read: its events follow the damaged part (see expected_events)
    UNREADABLE = "unreadable"  # one UnreadableItem at the part's path, its siblings intact


class _Missing:
    """The value of a damage that removes the key."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
Verdict = Outcome | Callable[[Json], Outcome]


@dataclass(frozen=True)
class Damage:
    """One way to break a part: set the key at ``at`` (inside the part) to ``value``."""

    label: str
    at: tuple[Step, ...]
    value: Json
    verdict: Verdict = field(repr=False)
    respell: bool = False  # value is ignored: the current number becomes a string or back

    def applies_to(self, part: Json) -> bool:
        """Whether the part has what this damage changes (a missing key cannot go missing)."""
        if not self.at:
            return True
        parent = _follow(part, self.at[:-1])
        if not isinstance(parent, dict):
            return False
        needs_key = self.value is MISSING or self.respell
        return not needs_key or (self.at[-1] in parent and _respellable(parent[self.at[-1]], self))

    def apply(self, part: Json) -> Json:
        """Return the damaged copy of the part."""
        if not self.at:
            return self.value
        damaged = copy.deepcopy(part)
        parent, last = _follow(damaged, self.at[:-1]), self.at[-1]
        if self.value is MISSING and not self.respell:
            del parent[last]
        else:
            parent[last] = _respelled(parent[last]) if self.respell else self.value
        return damaged

    def outcome(self, part: Json) -> Outcome:
        """What the parser must make of the part once damaged."""
        return self.verdict(part) if callable(self.verdict) else self.verdict


def _follow(node: Json, steps: Sequence[Step]) -> Json:
    """The node at ``steps`` below ``node``, or None if there is none."""
    for step in steps:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
    return node


def _respellable(value: Json, damage: Damage) -> bool:
    """A respelling needs a number (or bool) or a string of digits."""
    if not damage.respell:
        return True
    return isinstance(value, int | float) or (isinstance(value, str) and value.isdigit())


def _respelled(value: Json) -> Json:
    """``1767000000`` ⇄ ``"1767000000"``, ``32.08`` → ``"32.08"``, ``true`` → ``"true"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return int(value) if isinstance(value, str) else json.dumps(value)


U, R, S = Outcome.UNREADABLE, Outcome.READ, Outcome.SAME
NOT_STRING = ({"x": 1}, [1], True, 1.5)
NOT_NUMBER = ({"x": 1}, [1], True, 1.5, "soon")
NOT_LIST = ({"x": 1}, "x", 7)
NOT_OBJECT = ("x", [1], 7)
STRAY = ("stray_key_meta_added", {"x": 1})


def _each(
    label: str, at: tuple[Step, ...], values: Sequence[Json], verdict: Verdict
) -> list[Damage]:
    """One damage per value."""
    return [Damage(f"{path_of(at)} {label} {v!r}", at, v, verdict) for v in values]


def not_an_object() -> list[Damage]:
    """The part is not an object at all."""
    return _each("replaced by", (), [*NOT_OBJECT, None], U)


def required(*at: Step, wrong: Sequence[Json] = NOT_STRING) -> list[Damage]:
    """A key the part cannot do without: missing, null or mistyped, the part fails."""
    return _each("set to", at, [MISSING, None, *wrong], U)


def optional(*at: Step, wrong: Sequence[Json] = NOT_STRING, mistyped: Outcome = U) -> list[Damage]:
    """An optional key: missing or null it is read without; mistyped as ``mistyped``."""
    return _each("set to", at, [MISSING, None], R) + _each("set to", at, wrong, mistyped)


def defaulted(*at: Step, wrong: Sequence[Json] = NOT_STRING) -> list[Damage]:
    """A key with a default: missing it is read with it; null or mistyped the part fails."""
    return _each("set to", at, [MISSING], R) + _each("set to", at, [None, *wrong], U)


def array(*at: Step, mistyped: Outcome = U) -> list[Damage]:
    """A documented list: null or empty it holds nothing; of another type as ``mistyped``."""
    return _each("set to", at, [None, []], R) + _each("set to", at, NOT_LIST, mistyped)


def respelled(*at: Step, verdict: Outcome = S) -> list[Damage]:
    """A number spelled as a string (or back): read as the same number."""
    return [Damage(f"{path_of(at)} respelled", at, None, verdict, respell=True)]


def renamed(*at: Step, value: str) -> list[Damage]:
    """An enum value Meta added since: read, with the raw string kept."""
    return _each("set to the unknown value", at, [value], R)


def stray(*at: Step, verdict: Outcome = S) -> list[Damage]:
    """A key Meta added since: ignored."""
    name, value = STRAY
    return _each("with a new key", (*at, name), [value], verdict)


def sender(key: str, other: str) -> list[Damage]:
    """``from``/``from_user_id``: a message needs one of them; mistyped it fails."""

    def verdict(part: Json) -> Outcome:
        return R if part.get(other) else U

    return _each("set to", (key,), [MISSING, None, ""], verdict) + _each("set to", (key,), [7], U)


def _change(value_damages: list[Damage], *, value_stray: Outcome) -> list[Damage]:
    """The damages every change shares, then those of its value."""
    return [
        *not_an_object(),
        *required("field", wrong=({"x": 1}, [1], 7, True)),
        *renamed("field", value="calls"),
        *required("value", wrong=NOT_OBJECT),
        *stray(),
        *stray("value", verdict=value_stray),
        *value_damages,
    ]


CATALOGUE: dict[str, list[Damage]] = {
    "entry": [
        *not_an_object(),
        *required("id", wrong=({"x": 1}, [1], True, 1.5)),
        *respelled("id"),
        *optional("time", wrong=NOT_NUMBER),
        *respelled("time"),
        *_each("set to", ("changes",), [MISSING, *NOT_LIST], U),
        *_each("set to", ("changes",), [None, []], R),
        *stray(),
    ],
    "messages_change": _change(
        [
            *defaulted("value", "metadata", wrong=NOT_OBJECT),
            *_each("set to", ("value", "metadata", "phone_number_id"), [420000000000002], U),
            *array("value", "messages"),
            *array("value", "statuses"),
            *array("value", "contacts"),
        ],
        value_stray=S,
    ),
    "preferences_change": _change(
        [*array("value", "user_preferences"), *array("value", "contacts")], value_stray=S
    ),
    "template_change": _change(
        [
            *required("value", "event", wrong=({"x": 1}, [1], 7, True)),
            *renamed("value", "event", value="SUSPENDED_FOREVER"),
            *required("value", "message_template_id", wrong=({"x": 1}, [1], True, 1.5)),
            *respelled("value", "message_template_id", verdict=R),
            *optional("value", "message_template_name"),
            *optional("value", "reason"),
            *optional("value", "rejection_info", wrong=NOT_OBJECT),
        ],
        value_stray=R,  # the key of an id-less change hashes its value's bytes
    ),
    "message": [
        *not_an_object(),
        *required("id"),
        *_each("set to", ("id",), [""], U),
        *required("timestamp", wrong=NOT_NUMBER),
        *respelled("timestamp"),
        *sender("from", "from_user_id"),
        *sender("from_user_id", "from"),
        *_each("set to", ("type",), [MISSING, "hologram"], R),
        *_each("set to", ("type",), [None, 7, {"x": 1}], U),
        *[d for kind in MESSAGE_KINDS for d in optional(kind, wrong=NOT_OBJECT, mistyped=R)],
        *_each("set to", ("text", "body"), [{"x": 1}], R),
        *_each("set to", ("image", "id"), [7], R),
        *_each("set to", ("location", "latitude"), ["north"], R),
        *respelled("location", "latitude"),
        *_each("set to", ("reaction", "emoji"), [[1]], R),
        *_each("set to", ("interactive", "button_reply", "title"), [{"x": 1}], R),
        *_each("set to", ("button", "payload"), [7], R),
        *optional("context", wrong=NOT_OBJECT, mistyped=R),
        *array("errors", mistyped=R),
        *stray(),
    ],
    "status": [
        *not_an_object(),
        *required("id"),
        *_each("set to", ("id",), [""], U),
        *required("status", wrong=({"x": 1}, [1], 7, True)),
        *_each("set to", ("status",), [""], U),
        *renamed("status", value="deferred"),
        *required("timestamp", wrong=NOT_NUMBER),
        *respelled("timestamp"),
        *optional("recipient_id", wrong=(7, {"x": 1})),
        *optional("pricing", wrong=NOT_OBJECT, mistyped=R),
        *respelled("pricing", "billable"),
        *optional("conversation", wrong=NOT_OBJECT, mistyped=R),
        *optional("biz_opaque_callback_data", wrong=(7,), mistyped=R),
        *array("errors", mistyped=R),
        *respelled("errors", 0, "code"),
        *_each("set to", ("errors", 0, "code"), ["abc"], R),
        *stray(),
    ],
    "user_preference": [
        *not_an_object(),
        *optional("wa_id", wrong=(7, {"x": 1})),
        *optional("user_id", wrong=(7, {"x": 1})),
        *defaulted("category"),
        *defaulted("value"),
        *renamed("value", value="maybe_later"),
        *defaulted("timestamp", wrong=NOT_NUMBER),
        *respelled("timestamp"),
        *optional("detail", wrong=(7,)),
        *stray(),
    ],
}


# --------------------------------------------------------------------------- broken batches


@dataclass(frozen=True)
class Part:
    """A part of a body that can break on its own; ``item`` names it in an UnreadableItem."""

    where: tuple[Step, ...]
    item: str
    kind: str

    @property
    def path(self) -> str:
        """Where the part sits, as an UnreadableItem's ``path`` says it."""
        return path_of(self.where)

    def holds(self, path: str) -> bool:
        """Whether an event at ``path`` comes from this part."""
        return path == self.path or path.startswith(self.path + ".")


_CHANGE_KINDS = {
    "messages": "messages_change",
    "user_preferences": "preferences_change",
    TEMPLATE_FIELD: "template_change",
}
_ITEM_KINDS = {"messages": "message", "statuses": "status", "user_preferences": "user_preference"}


def parts(doc: Json) -> list[Part]:
    """Every part of a sound body that can break on its own, in document order."""
    found: list[Part] = []
    for i, item in enumerate(doc["entry"]):
        found.append(Part(("entry", i), "entry", "entry"))
        for j, change in enumerate(item["changes"]):
            where: tuple[Step, ...] = ("entry", i, "changes", j)
            found.append(Part(where, "change", _CHANGE_KINDS[change["field"]]))
            for array_, kind in _ITEM_KINDS.items():
                for k, _ in enumerate(change["value"].get(array_, [])):
                    found.append(Part((*where, "value", array_, k), kind, kind))
    return found


@dataclass(frozen=True)
class Broken:
    """A sound batch with one part damaged, and what the parser must make of it."""

    sound: Batch
    part: Part
    damage: Damage
    doc: Json = field(repr=False)
    outcome: Outcome

    @property
    def body(self) -> bytes:
        """The damaged body's bytes."""
        return encode(self.doc)

    def expected(self) -> list[Expected]:
        """Every event the damaged body must yield, in order."""
        broken = self.part if self.outcome is Outcome.UNREADABLE else None
        return expected_events(self.doc, broken)


def damaged(sound: Batch, part: Part, damage: Damage) -> Broken:
    """Apply ``damage`` to ``part`` of ``sound``."""
    doc = copy.deepcopy(sound.doc)
    node = _follow(doc, part.where)
    parent = _follow(doc, part.where[:-1])
    parent[part.where[-1]] = damage.apply(node)
    return Broken(sound, part, damage, doc, damage.outcome(node))


def damages_of(sound: Batch, part: Part) -> list[Damage]:
    """The damages of the catalogue that apply to this part."""
    node = _follow(sound.doc, part.where)
    return [d for d in CATALOGUE[part.kind] if d.applies_to(node)]


@st.composite
def broken_batches(draw: st.DrawFn, sound: st.SearchStrategy[Batch] | None = None) -> Broken:
    """A sound batch with exactly one part damaged in one catalogued way."""
    batch = draw(batches() if sound is None else sound)
    part = draw(st.sampled_from(parts(batch.doc)))
    return damaged(batch, part, draw(st.sampled_from(damages_of(batch, part))))


def every_damage(sound: Batch) -> Iterator[Broken]:
    """Every catalogued damage of every part of ``sound``, one at a time."""
    for part in parts(sound.doc):
        for damage in damages_of(sound, part):
            yield damaged(sound, part, damage)
