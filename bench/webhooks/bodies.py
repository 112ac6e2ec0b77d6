"""What leads send, as Meta posts it: inbound text, media and button replies, and statuses.

Each body is built the way Meta writes it (compact JSON, non-ASCII as ``\\uXXXX`` escapes,
``/`` as ``\\/``), with the ``contacts`` block that names the sender, modelled on the
recorded bodies of ``tests/ingest/fixtures`` (``text_hebrew_emoji``, ``image_with_caption``,
``interactive_button_reply``, ``status_delivered``).

The senders are a population: ``known`` leads that already exist (seeded by
:mod:`bench.webhooks.seed` with the same identities, so they are matched, not created) and a
share of first-time senders, each a lead of its own once applied. Every body is distinct
(its own wamid), so nothing the benchmark posts is a duplicate until the stream wraps.

Streams are written to a file, one ``signature<TAB>body`` line each, which the wrk script of
:mod:`bench.webhooks.ack` reads line by line (bodies too many to keep in wrk's memory).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from bench.webhooks.common import signature

Kind = Literal["text", "media", "button", "status"]
STREAMED = ("text", "media", "button", "mix")
"""The ``--kind`` values posted as a stream of distinct bodies (``status`` alone keeps the
earlier cycled bodies, comparable with the earlier figures)."""

MIX: dict[Kind, float] = {"status": 0.50, "text": 0.35, "button": 0.10, "media": 0.05}
"""``--kind mix``: Meta counts about three statuses per message sent plus one notification
per message received; a campaign's replies raise the share of inbound. Half statuses (of
messages the business sent), the other half what leads send: mostly texts, then taps on a
template's buttons, then photos with a caption."""

STATUS_STEPS = ("sent", "delivered", "read")
WABA_ID = "310000000000001"
METADATA = {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"}
FIRST_TS = 1767000060

_NAMES = (
    "נועה בן דוד",
    "יוסי כהן",
    "מיכל לוי",
    "אבי מזרחי",
    "שירה פרץ",
    "דניאל ביטון",
    "Maya Friedman",
    "תמר אברהם",
    "Omer Shapiro",
    "רונית דהן",
)
_TEXTS = (
    "שלום! אני מעוניינת בדירה 😀 https://example.co.il/apt/4711 — האם היא עדיין פנויה? "
    "נשמח לתאם סיור השבוע, אחר הצהריים מתאים לנו. כמה חדרים יש בדירה ומה גובה הארנונה?",
    "היי, ראיתי את המודעה על הדירה ברחוב הרצל. יש חניה? מחסן? מתי אפשר להיכנס לגור? "
    "אנחנו זוג עם ילד קטן ומחפשים משהו שקט, קרוב לגן. תודה רבה!",
    "Hi, is the 4-room apartment on Ben Yehuda still available? What is the monthly rent "
    "including building fees, and is a bank guarantee required? Could we see it Thursday?",
    "מה המחיר הסופי? אפשר לדבר בטלפון מחר בבוקר? אני זמין מ-9 עד 11. "
    "גם מעניין אותי אם המשכיר גמיש בתאריך הכניסה, כי החוזה שלנו נגמר רק בסוף החודש.",
    "תודה על המידע! שלחתי לבן הזוג שלי את התמונות, נחזור אליכם עד הערב. "
    "אם יש עוד דירות דומות באזור, בטווח של 6,500–7,500 ₪, נשמח לשמוע 🙏",
)
_CAPTIONS = ("תמונה של הסלון", "ככה נראה החדר עכשיו", "זה הצ'ק לערבות", "המסמכים שביקשתם")
_BUTTONS = (
    ("book_visit", "לתאם סיור"),
    ("call_me", "שיחזרו אליי"),
    ("not_interested", "לא מעוניין"),
)


@dataclass(frozen=True, slots=True)
class Sender:
    """A WhatsApp user as the ``contacts`` block and ``from`` name them."""

    wa_id: str
    bsuid: str
    name: str


def known_sender(n: int) -> Sender:
    """The ``n``-th seeded lead (an Israeli mobile number, a BSUID, a profile name)."""
    return Sender(f"9725{20_000_000 + n:08d}", f"IL.{5_550_000_000_000_000_000 + n}", _name(n))


def new_sender(n: int) -> Sender:
    """The ``n``-th first-time sender: an identity no seeded lead has."""
    return Sender(f"9725{60_000_000 + n:08d}", f"IL.{5_560_000_000_000_000_000 + n}", _name(n))


def _name(n: int) -> str:
    return _NAMES[n % len(_NAMES)]


def inbound_wamid(n: int) -> str:
    """A realistic-length wamid for inbound message ``n`` (distinct per ``n``)."""
    return f"wamid.HBgMOTcyNTIxMjM0NTY3FQIAEhggQjAw{n:014d}=="


def outbound_wamid(n: int) -> str:
    """The wamid of seeded outbound message ``n`` (the statuses of the mix are theirs)."""
    return f"wamid.HBgMOTcyNTIxMjM0NTY3FQIAERgSU0VFRE{n:012d}AA=="


def meta_json(document: dict[str, Any]) -> bytes:
    """JSON as Meta's encoder writes it: compact, ASCII with ``\\u`` escapes, ``\\/``."""
    return json.dumps(document, separators=(",", ":")).replace("/", "\\/").encode()


def _envelope(value: dict[str, Any]) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": METADATA, **value}
    change = {"value": value, "field": "messages"}
    return meta_json(
        {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}
    )


def inbound_body(kind: Kind, n: int, sender: Sender, ts: int) -> bytes:
    """One inbound message of ``kind`` (text, media or button) from ``sender``."""
    message: dict[str, Any] = {
        "from": sender.wa_id,
        "id": inbound_wamid(n),
        "timestamp": str(ts),
    }
    if kind == "text":
        message |= {"type": "text", "text": {"body": _TEXTS[n % len(_TEXTS)]}}
    elif kind == "media":
        image = {
            "caption": _CAPTIONS[n % len(_CAPTIONS)],
            "mime_type": "image/jpeg",
            "sha256": "mQ3kbJ0vR8p8oBz0e2Q9sD0fA1bC2dE3fG4hI5jK6lM=",
            "id": str(1_034_567_890_000_000 + n),
        }
        message |= {"type": "image", "image": image}
    elif kind == "button":
        key, title = _BUTTONS[n % len(_BUTTONS)]
        reply = {"id": f"lead:{n}:{key}", "title": title}
        message |= {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": reply},
            "context": {"from": METADATA["display_phone_number"], "id": outbound_wamid(n)},
        }
    else:
        raise ValueError(f"not an inbound kind: {kind}")
    contact = {"profile": {"name": sender.name}, "wa_id": sender.wa_id, "user_id": sender.bsuid}
    return _envelope({"contacts": [contact], "messages": [message]})


def status_body(message: int, step: str, recipient: Sender, ts: int) -> bytes:
    """A status of seeded outbound message ``message`` (pricing as Meta sends it)."""
    item = {
        "id": outbound_wamid(message),
        "status": step,
        "timestamp": str(ts),
        "recipient_id": recipient.wa_id,
        "recipient_user_id": recipient.bsuid,
        "pricing": {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "marketing",
        },
    }
    return _envelope({"statuses": [item]})


@dataclass(frozen=True)
class Plan:
    """A stream to post: its kind, length and sender population."""

    kind: str
    bodies: int
    known: int = 2000
    new_share: float = 0.10
    seed: int = 23

    def kinds(self) -> Iterator[Kind]:
        """The kind of each body in order (the mix drawn with a fixed seed)."""
        if self.kind != "mix":
            single = cast(Kind, self.kind)
            for _ in range(self.bodies):
                yield single
            return
        rng = random.Random(self.seed)
        choices: list[Kind] = list(MIX)
        weights = list(MIX.values())
        for _ in range(self.bodies):
            yield rng.choices(choices, weights)[0]

    def status_messages(self) -> int:
        """How many outbound messages the stream's statuses need (three statuses each)."""
        statuses = sum(1 for kind in self.kinds() if kind == "status")
        return -(-statuses // len(STATUS_STEPS))


@dataclass
class Written:
    """What a stream file holds, by kind and sender."""

    path: Path
    bodies: int
    by_kind: dict[str, int]
    from_new_senders: int
    outbound_messages: int
    mean_bytes: float


def write_stream(plan: Plan, path: Path) -> Written:
    """Write the plan's bodies, signed, one ``signature<TAB>body`` line each.

    Inbound bodies come from a known lead (uniformly drawn) or, with ``new_share``
    probability, from a first-time sender; statuses walk the seeded outbound messages step
    by step (every ``sent`` first, then every ``delivered``, then ``read``: each message's
    statuses arrive in order, apart in time).
    """
    rng = random.Random(plan.seed + 1)
    messages = max(plan.status_messages(), 1)
    by_kind: dict[str, int] = {}
    new = statuses = size = 0
    with path.open("w", encoding="ascii") as out:
        for n, kind in enumerate(plan.kinds()):
            ts = FIRST_TS + n // 1000
            if kind == "status":
                message = statuses % messages
                step = STATUS_STEPS[min(statuses // messages, len(STATUS_STEPS) - 1)]
                raw = status_body(message, step, known_sender(message % plan.known), ts)
                statuses += 1
            else:
                if rng.random() < plan.new_share:
                    sender = new_sender(new)
                    new += 1
                else:
                    sender = known_sender(rng.randrange(plan.known))
                raw = inbound_body(kind, n, sender, ts)
            by_kind[kind] = by_kind.get(kind, 0) + 1
            size += len(raw)
            out.write(f"{signature(raw)}\t{raw.decode('ascii')}\n")
    return Written(path, plan.bodies, by_kind, new, plan.status_messages(), size / plan.bodies)


def wrk_script(stream: Path, *, offered: int = 0, connections: int = 64) -> str:
    """A wrk script posting the stream's lines in order (from the start again at its end).

    One wrk thread (``-t1``): a second thread would read the same file from its start and
    post the same bodies again, which are duplicates. ``offered`` > 0: about that many
    requests a second rather than as many as the server answers — each connection waits
    after an answer, the wait starting at ``connections / offered`` and corrected once a
    second by the rate answered in the second before (wrk's Lua has a clock of seconds).
    """
    pause = ""
    if offered > 0:
        pause = f"""
local target = {offered}
local wait_ms = {connections * 1000 / offered:.3f}
local second = os.time()
local answered = 0
response = function(status, headers, body)
  answered = answered + 1
end
delay = function()
  local now = os.time()
  if now ~= second then
    local rate = answered / (now - second)
    if rate > 0 then
      wait_ms = math.max(0.1, math.min(1000, wait_ms * rate / target))
    end
    second = now
    answered = 0
  end
  return wait_ms
end
"""
    return (
        pause
        + f"""
local path = "{stream}"
local stream = nil
init = function(args)
  stream = assert(io.open(path, "rb"))
end
local function next_line()
  local line = stream:read("*l")
  if line == nil then
    stream:seek("set")
    line = stream:read("*l")
  end
  return line
end
request = function()
  local line = next_line()
  local tab = line:find("\\t", 1, true)
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = line:sub(1, tab - 1)}}, line:sub(tab + 1))
end
"""
    )
