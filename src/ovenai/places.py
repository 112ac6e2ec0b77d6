"""Which town a lead's message names: "ראיתי את הדירה בתל אביב", "the flat in Haifa".

A stranger's first message usually says where the flat they saw is, and the welcome
template thanks them for "the property in {{2}}". The towns an agency lists properties in
(``properties.city``, ``properties.area``) are looked for first, then the larger Israeli
towns below, each under the spellings people type (with or without hyphens, the Hebrew
prefix letters ב/ל/מ/ה/ו glued on, "Tel Aviv" and "Tel-Aviv"). Matching runs on the text as
:func:`ovenai.intents.normalise` spells it, on whole words only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ovenai.intents import normalise


@dataclass(frozen=True, slots=True)
class Town:
    """A town as written back to a lead in Hebrew or English, and how people type it."""

    he: str
    en: str
    spellings: tuple[str, ...] = ()

    def name_in(self, language: str) -> str:
        """The town's name for a lead writing in ``language``."""
        return self.en if language == "en" else self.he


TOWNS: tuple[Town, ...] = (
    # Hebrew name, English name, other spellings people type
    Town(
        "תל אביב",
        "Tel Aviv",
        (
            "תל אביב יפו",
            "תל-אביב",
            'ת"א',
            "tel aviv",
            "tel-aviv",
            "tlv",
        ),
    ),
    Town(
        "ירושלים",
        "Jerusalem",
        (
            "jerusalem",
            "ירושליים",
        ),
    ),
    Town("חיפה", "Haifa", ("haifa",)),
    Town(
        "רמת גן",
        "Ramat Gan",
        (
            "רמת-גן",
            'ר"ג',
            "ramat gan",
            "ramat-gan",
        ),
    ),
    Town(
        "גבעתיים",
        "Givatayim",
        (
            "givatayim",
            "givataim",
        ),
    ),
    Town(
        "הרצליה",
        "Herzliya",
        (
            "herzliya",
            "herzlia",
        ),
    ),
    Town(
        "רעננה",
        "Ra'anana",
        (
            "raanana",
            "ra'anana",
        ),
    ),
    Town(
        "כפר סבא",
        "Kfar Saba",
        (
            "כפר-סבא",
            "kfar saba",
            "kfar-saba",
        ),
    ),
    Town("הוד השרון", "Hod Hasharon", ("hod hasharon",)),
    Town(
        "נתניה",
        "Netanya",
        (
            "netanya",
            "natanya",
        ),
    ),
    Town(
        "פתח תקווה",
        "Petah Tikva",
        (
            "פתח תקוה",
            'פ"ת',
            "petah tikva",
            "petach tikva",
        ),
    ),
    Town(
        "ראשון לציון",
        "Rishon LeZion",
        (
            'ראשל"צ',
            "rishon lezion",
            "rishon le zion",
            "rishon",
        ),
    ),
    Town("חולון", "Holon", ("holon",)),
    Town(
        "בת ים",
        "Bat Yam",
        (
            "בת-ים",
            "bat yam",
            "bat-yam",
        ),
    ),
    Town("רחובות", "Rehovot", ("rehovot",)),
    Town(
        "נס ציונה",
        "Ness Ziona",
        (
            "ness ziona",
            "nes ziona",
        ),
    ),
    Town(
        "מודיעין",
        "Modi'in",
        (
            "modiin",
            "modi'in",
        ),
    ),
    Town("אשדוד", "Ashdod", ("ashdod",)),
    Town("אשקלון", "Ashkelon", ("ashkelon",)),
    Town(
        "באר שבע",
        "Be'er Sheva",
        (
            'ב"ש',
            "beer sheva",
            "be'er sheva",
            "beersheba",
        ),
    ),
    Town("אילת", "Eilat", ("eilat",)),
    Town("נהריה", "Nahariya", ("nahariya",)),
    Town(
        "עכו",
        "Akko",
        (
            "acre",
            "akko",
        ),
    ),
    Town("חדרה", "Hadera", ("hadera",)),
    Town("קיסריה", "Caesarea", ("caesarea",)),
    Town(
        "זכרון יעקב",
        "Zichron Yaakov",
        (
            "zichron yaakov",
            "zikhron yaakov",
        ),
    ),
    Town("רמת השרון", "Ramat Hasharon", ("ramat hasharon",)),
    Town("יהוד", "Yehud", ("yehud",)),
    Town("אור יהודה", "Or Yehuda", ("or yehuda",)),
    Town("גבעת שמואל", "Givat Shmuel", ("givat shmuel",)),
    Town("בני ברק", "Bnei Brak", ("bnei brak",)),
    Town(
        "יפו",
        "Jaffa",
        (
            "jaffa",
            "yafo",
        ),
    ),
    Town(
        "ראש העין",
        "Rosh Haayin",
        (
            "rosh haayin",
            "rosh ha'ayin",
        ),
    ),
    Town("שוהם", "Shoham", ("shoham",)),
    Town(
        "קריית אונו",
        "Kiryat Ono",
        (
            "קרית אונו",
            "kiryat ono",
        ),
    ),
    Town("עפולה", "Afula", ("afula",)),
    Town(
        "טבריה",
        "Tiberias",
        (
            "tiberias",
            "tveria",
        ),
    ),
    Town(
        "צפת",
        "Safed",
        (
            "safed",
            "tzfat",
        ),
    ),
)

_PREFIXES = "(?:[בלמהוש]|וב|ול|ומ|שב|מה|בה|לה)?"


def _pattern(spelling: str) -> str:
    words = normalise(spelling).replace("-", " ").split()
    body = r"[\s-]+".join(re.escape(word) for word in words)
    if re.match(r"[\u0590-\u05ff]", spelling):
        return rf"(?<![\w\"']){_PREFIXES}{body}(?![\w])"
    return rf"(?<![\w]){body}(?![\w])"


@lru_cache(maxsize=4096)
def _compiled(spelling: str) -> re.Pattern[str]:
    """:func:`_pattern` compiled, once a spelling (TOWNS alone outnumber re's own cache)."""
    return re.compile(_pattern(spelling))


@lru_cache(maxsize=4096)
def _first_word(spelling: str) -> str:
    """The first word of a spelling as :func:`_pattern` looks for it: a text without it
    cannot name the town, and ``in`` says so far sooner than the pattern does."""
    words = normalise(spelling).replace("-", " ").split()
    return words[0] if words else ""


def _search(spelling: str, spelled: str) -> re.Match[str] | None:
    if _first_word(spelling) not in spelled:
        return None
    return _compiled(spelling).search(spelled)


@lru_cache(maxsize=4096)
def town_named(text: str) -> Town | None:
    """:func:`find_town` with no listed towns, remembered: a listing's matches ask it of
    every lead's wanted place, and leads write the same few places."""
    return find_town(text)


def find_town(text: str, listed: Sequence[str] = ()) -> Town | None:
    """The first town ``text`` names: one of ``listed`` (the agency's own towns and areas,
    kept as written there, in whatever language) first, then one of :data:`TOWNS`; None
    when it names none."""
    spelled = normalise(text).replace("-", " ")
    for name in listed:
        if name.strip() and _search(name, spelled):
            return Town(name.strip(), name.strip())
    found: list[tuple[int, int, Town]] = []
    for order, town in enumerate(TOWNS):
        starts = [
            match.start()
            for spelling in (town.he, town.en, *town.spellings)
            if (match := _search(spelling, spelled))
        ]
        if starts:
            found.append((min(starts), order, town))
    return min(found)[2] if found else None


def towns_of(rows: Iterable[tuple[str | None, str | None]]) -> list[str]:
    """The distinct towns and areas of listings, longest first (so "Ramat Aviv" is tried
    before "Aviv")."""
    names = {name.strip() for row in rows for name in row if name and name.strip()}
    return sorted(names, key=lambda name: (-len(name), name))
