"""The demo agency of sandbox mode: listings, leads at every stage, viewings, and the
scripted leads the simulator plays, so a newcomer can try the whole loop alone.

:func:`reset` (``ovenai demo reset``, and ``make run`` on an empty database) empties the
sandbox's business tables — leads, conversations, viewings, listings, campaigns, alerts;
users, tokens, templates and automation rules stay — and adds the demo: listings in six
cities, :data:`LEADS` in Hebrew and English at every stage of the pipeline, upcoming and
past viewings. The leads' phones are in a reserved demo range; the simulator is told (by
the caller, who knows where it is) to play them with :func:`personas`: each answers our
messages with its next line a few seconds later ("when can I see it?", the price, a call,
"הסר"). :data:`OPENERS` are the first messages some of them write, which start live
conversations (greeted by automation, with ticks); one lead, :data:`UNREACHABLE`, is not on
WhatsApp, so the greeting queued for it fails with Meta's reason.

None of it runs outside sandbox mode: :func:`reset` refuses otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import text

from ovenai import leads, meetings, properties
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import ConfigurationError
from ovenai.lead_fields import LeadCreate
from ovenai.meetings import MeetingCreate
from ovenai.models import Base, MeetingStatus, Property, Source, Stage
from ovenai.outbox import queue
from ovenai.properties import PropertyCreate
from ovenai.settings import Settings

# Tables a reset keeps: who may sign in, the templates, the rules, and the schema's own.
KEEP = frozenset(
    {
        "alembic_version",
        "users",
        "api_tokens",
        "user_sessions",
        "message_templates",
        "automation_rules",
        "system_flags",
        "job_locks",
    }
)
PHONE_PREFIX = "97250555"  # + four digits: the demo's reserved numbers
DEFAULT_DELAY_S = 4.0  # how long a scripted lead takes to answer

LISTINGS = (
    ("דירת 4 חדרים עם מרפסת", "תל אביב", "פלורנטין", Decimal(4), 95, 3_400_000),
    ("דירת גן שקטה", "חיפה", "כרמל", Decimal(4), 110, 1_950_000),
    ("פנטהאוז עם נוף", "חיפה", "בת גלים", Decimal(5), 160, 2_900_000),
    ("דירת 3 חדרים משופצת", "ירושלים", "בקעה", Decimal(3), 75, 2_600_000),
    ("דופלקס למשפחה", "רמת גן", "הבורסה", Decimal(5), 140, 3_100_000),
    ("דירה מול הים", "נתניה", "עיר ימים", Decimal("3.5"), 90, 2_450_000),
    ("דירת סטודנטים", "באר שבע", "רמות", Decimal(3), 70, 980_000),
    ("Renovated 2-room flat", "תל אביב", "הצפון הישן", Decimal(2), 55, 2_200_000),
)

CITIES_EN = {
    "תל אביב": "Tel Aviv",
    "חיפה": "Haifa",
    "ירושלים": "Jerusalem",
    "רמת גן": "Ramat Gan",
    "נתניה": "Netanya",
    "באר שבע": "Be'er Sheva",
}

# What each kind of lead answers when we write, one line per message of ours.
SCRIPTS = {
    ("interested", "he"): ("נשמע מעולה, מתי אפשר לראות?", "מחר אחרי 17:00 מתאים לי"),
    ("price", "he"): ("כמה עולה הדירה? יש גמישות במחיר?", "תודה, נחשוב על זה"),
    ("call", "he"): ("אפשר שתתקשרו אליי? עדיף בערב", "תודה רבה!"),
    ("opt_out", "he"): ("הסר",),
    ("interested", "en"): ("Sounds great, when can I see it?", "Tomorrow after 5pm works"),
    ("price", "en"): ("What's the asking price? Any room to negotiate?", "Thanks, we'll think"),
    ("call", "en"): ("Could you call me this evening?", "Thanks!"),
    ("opt_out", "en"): ("STOP",),
}


@dataclass(frozen=True)
class DemoLead:
    """One lead of the demo: who, where it stands, what it wants, how it answers."""

    number: int  # the last four digits of its phone
    name: str
    language: str
    stage: Stage
    listing: int  # index into LISTINGS: the listing it asked about
    source: Source
    script: str

    @property
    def wa_id(self) -> str:
        """Its WhatsApp id (digits, country code first)."""
        return f"{PHONE_PREFIX}{self.number:04d}"


_HE = ("נועה כהן", "יוסי לוי", "מיכל אברהם", "דוד מזרחי", "שירה פרץ", "אבי ביטון", "רונית דהן",
       "עומר פרידמן", "תמר שפירא", "אלון גבאי", "הילה אזולאי", "איתי רוזן", "מאיה קליין",
       "גל חדד", "ליאור אוחיון", "יעל בן דוד", "אורי וקנין", "דנה סויסה", "ניר אלמוג",
       "שני טל")  # fmt: skip
_EN = ("Sarah Miller", "David Cohen", "Emily Rose", "James Levin", "Rachel Stern",
       "Michael Gold", "Hannah Katz", "Daniel Roth")  # fmt: skip
_STAGES = tuple(Stage)
_SCRIPTS = ("interested", "price", "call", "interested", "price", "opt_out")
_SOURCES = (Source.WHATSAPP, Source.PORTAL, Source.WEB_FORM, Source.AD_REFERRAL, Source.MANUAL)

LEADS: tuple[DemoLead, ...] = tuple(
    DemoLead(
        number=index + 1,
        name=name,
        language=language,
        stage=_STAGES[index % len(_STAGES)],
        listing=index % len(LISTINGS),
        source=_SOURCES[index % len(_SOURCES)],
        script=_SCRIPTS[index % len(_SCRIPTS)],
    )
    for index, (name, language) in enumerate([(n, "he") for n in _HE] + [(n, "en") for n in _EN])
)
UNREACHABLE = DemoLead(99, "משה (לא בוואטסאפ)", "he", Stage.NEW, 0, Source.MANUAL, "interested")
"""A lead whose number is not on WhatsApp: the greeting queued for it fails (131026)."""

OPENERS: tuple[tuple[DemoLead, str], ...] = tuple(
    (
        lead,
        f"היי, ראיתי את {LISTINGS[lead.listing][0]} ב{LISTINGS[lead.listing][1]}, היא עדיין זמינה?"
        if lead.language == "he"
        else f"Hi, I saw your {LISTINGS[lead.listing][3]}-room flat in "
        f"{CITIES_EN[LISTINGS[lead.listing][1]]}. Is it still available?",
    )
    for lead in LEADS
    if lead.stage in (Stage.NEW, Stage.CONTACTED)
)
"""The first messages some leads write when the demo starts: live conversations."""


@dataclass(frozen=True)
class DemoReport:
    """What a reset made."""

    listings: int
    leads: int
    viewings: int
    queued: int


def personas(delay_s: float = DEFAULT_DELAY_S) -> list[dict[str, object]]:
    """The simulator's scripted users (``POST /_sim/personas``): every demo lead."""
    return [
        {
            "wa_id": lead.wa_id,
            "name": lead.name,
            "lines": list(SCRIPTS[(lead.script, lead.language)]),
            "delay_s": delay_s,
        }
        for lead in LEADS
    ]


async def reset(
    db: Database, settings: Settings, *, empty: bool = True, now: datetime | None = None
) -> DemoReport:
    """Empty the sandbox's business tables (unless ``empty`` is False: a new database, where
    someone may already be writing in) and add the demo agency (sandbox mode only)."""
    if not settings.sandbox:
        raise ConfigurationError("the demo exists only in sandbox mode (`make run`)")
    if empty:
        await _empty(db)
    actor = Actor.system()
    listed = [
        await properties.create_property(
            db,
            actor=actor,
            data=PropertyCreate(
                title=title, city=city, area=area, rooms=rooms, size_m2=size, price=price
            ),
        )
        for title, city, area, rooms, size, price in LISTINGS
    ]
    made = {}
    async with db.session() as session:  # no hooks: nobody is greeted for being created
        for lead in (*LEADS, UNREACHABLE):
            listing = LISTINGS[lead.listing]
            data = LeadCreate(
                name=lead.name,
                phone=f"+{lead.wa_id}",
                language=lead.language,
                source=lead.source,
                stage=lead.stage,
                property_id=listed[lead.listing].id,
                want_city=listing[1],
                want_rooms_min=listing[3],
                want_budget_max=int(listing[5] * 1.1),
            )
            row = await leads.add_lead(session, db.vault, actor=actor, data=data)
            made[lead.number] = row.id
        await session.commit()
    viewings = await _viewings(db, settings, made, listed, now or utcnow())
    await queue.send_message(
        db,
        actor=actor,
        lead_id=made[UNREACHABLE.number],
        request=queue.OutboundRequest(template="welcome_new_lead"),
        waba_id=settings.whatsapp_business_account_id or "",
        zone=settings.zone,
    )
    return DemoReport(listings=len(listed), leads=len(made), viewings=viewings, queued=1)


async def _empty(db: Database) -> None:
    async with db.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP:
                await session.execute(text(f"DELETE FROM {table.name}"))  # noqa: S608
        await session.commit()


async def _viewings(
    db: Database,
    settings: Settings,
    made: dict[int, str],
    listed: list[Property],
    now: datetime,
) -> int:
    """Upcoming viewings for the leads at viewing_scheduled, past ones for viewing_done."""
    today = now.astimezone(settings.zone).date()
    count = 0
    for offset, lead in enumerate(LEADS):
        if lead.stage not in (Stage.VIEWING_SCHEDULED, Stage.VIEWING_DONE):
            continue
        upcoming = lead.stage is Stage.VIEWING_SCHEDULED
        day = today + timedelta(days=1 + offset % 3) if upcoming else today - timedelta(days=2)
        starts = datetime.combine(day, time(17 + offset % 3, 30), tzinfo=settings.zone)
        data = MeetingCreate(
            lead_id=made[lead.number],
            property_id=listed[lead.listing].id,
            starts_at=starts,
            status=MeetingStatus.CONFIRMED if upcoming else MeetingStatus.DONE,
            recorded_after=not upcoming,
        )
        await meetings.create_meeting(db, actor=Actor.system(), data=data, zone=settings.zone)
        count += 1
    return count
