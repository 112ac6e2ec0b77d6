"""The phrases of each intent, Hebrew and English, as rules over the normalised text.

Every pattern is written against :func:`ovenai.intents.normalise.normalise`'s output:
case-folded, contractions expanded ("don't" -> "do not"), shorthand spelt out ("pls" ->
"please"), Hebrew acronym marks dropped (ממ"ד -> ממד). Hebrew may be written here with
final letters; they are folded when the patterns compile, as in the text.

Rules describe *forms*, not memorised messages. Opt-out is the intent that must be precise
(a wrong one loses a lead), so its rules ask for a command aimed at the sender or the list:
a removal verb with "me", "my number" or "from the list" as its object, a stop verb with
sending or messaging (whose object, if any, is the messages themselves: "stop sending me
3-room flats" is a preference, not an opt-out), "don't send me any more", or a message that
is nothing but opt-out words ("STOP", "הסר", "unsubscribe"). A match preceded in its clause
by a negation, a question about the past or a condition ("אל תסירו אותי", "did you remove
me", "if ... stop") does not count (:mod:`ovenai.intents.rules`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ovenai.intents.base import Intent
from ovenai.intents.normalise import FINAL_LETTERS

WEIGHT_STRONG = 0.95
WEIGHT_CLEAR = 0.9
WEIGHT_LIKELY = 0.85
WEIGHT_FAIR = 0.8
WEIGHT_HINT = 0.7
WEIGHT_WEAK = 0.6

NEGATORS = frozenset({"not", "never", "no", "without", "לא", "אל", "בלי", "אין", "שלא"})
"""Words that cancel a match when among the few words before it in the same clause."""

CANCELLING = frozenset({"cancel", "remove", "from", "לבטל", "תבטל", "תבטלו", "בטלו", "ביטול"})
"""Words that make a mention of a viewing its cancellation ("remove me from the viewing")."""

CONDITIONS = frozenset({"if", "unless", "whether", "אם"})
"""Words that make a statement hypothetical ("if it's not relevant I'll tell you")."""

OPT_OUT_NEGATORS = NEGATORS | frozenset(
    {
        # a question about what happened, not a request
        "why", "did", "have", "has", "who", "למה", "מדוע", "מי", "הם", "הוא", "היא", "they",
        # a condition: not now, maybe later
        "if", "unless", "אם", "whether", "when",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One form of one intent; ``name`` says in the log what it recognised."""

    intent: Intent
    name: str
    weight: float
    pattern: re.Pattern[str]
    negators: frozenset[str]
    asks: bool  # counts only in a message that asks something (:data:`QUESTION`)


def _rule(
    intent: Intent,
    name: str,
    weight: float,
    source: str,
    negators: frozenset[str] | None = None,
    *,
    asks: bool = False,
) -> Rule:
    if negators is None:
        negators = {
            Intent.OPT_OUT: OPT_OUT_NEGATORS,
            Intent.NOT_INTERESTED: CONDITIONS,  # its rules hold their own negations
        }.get(intent, NEGATORS)
    pattern = re.compile(source.translate(FINAL_LETTERS))
    folded = frozenset(word.translate(FINAL_LETTERS) for word in negators)
    return Rule(intent, name, weight, pattern, folded, asks)


QUESTION = re.compile(
    r"\?|(?<!\w)(?:what|whats|how|which|where|when|is\s+there|are\s+there|is\s+it|does\s+it|"
    r"do\s+you|any|more|send|tell|מה|כמה|איזה|איזו|באיזה|באיזו|איפה|מתי|יש|האם|אפשר|תשלח|"
    r"תשלחו|שלח|שלחו|עוד|ומה)(?!\w)"
)
"""A message that asks: a question mark, a question word, or a request for more."""

WORD = r"[^\s,.!?;]+"  # one word, never across a clause's punctuation
B = r"(?<!\w)"  # a word starts
E = r"(?!\w)"  # a word ends
P = r"(?<!\w)[ובלהשמכ]{0,2}"  # a Hebrew word with its prefix letters (ו, ה, ב, ל, ש ...)
END = r"\s*(?=$|[^\w\s])"  # nothing more in the sentence: end, punctuation or an emoji

# --- opt-out ---------------------------------------------------------------------------

HE_REMOVE = (
    r"(?:הסר|הסרה|להסרה|הסירו|תסיר|תסירי|תסירו|להסיר|שחררו|תשחררו|לשחרר|"
    r"הורד|הורידו|תוריד|תורידי|תורידו|להוריד|הוציאו|תוציא|תוציאי|תוציאו|להוציא|מחק|מחקו|תמחק|תמחקי|"
    r"תמחקו|למחוק|גרעו|תגרעו|לגרוע)"
)
HE_ME = r"(?:אותי|אותנו|(?:את\s+)?(?:ה)?(?:מספר|טלפון|מספר\s+הטלפון|פרטים|נייד)\s+(?:שלי|שלנו))"
HE_LIST = (
    r"מ(?:כל\s+)?(?:ה)?(?:הודעות|קבוצה|קבוצות|רשימה|רשימות|רשימת\s+(?:ה)?(?:תפוצה|דיוור)|"
    r"תפוצה|מאגר|דיוור|מערכת|רשימת\s+(?:ה)?(?:לקוחות|אנשי\s+קשר)|אנשי\s+(?:ה)?קשר)"
)
HE_FILL = r"(?:\s+(?:בבקשה|פליז|כבר|נא|מיד|מייד|עכשיו|please))*"
# Not "מספיק" + infinitive: "מספיק לכתוב לי" is "just writing to me is enough".
HE_STOP = r"(?:תפסיק|תפסיקי|תפסיקו|הפסיקו|הפסק|להפסיק|די|די\s+כבר|מספיק\s+כבר|נא\s+להפסיק)"
HE_BOTHER = r"(?:לשלוח|לכתוב|לפנות|להציק|להטריד|לחפור|לנדנד|לספמם|לשגע)"
HE_TO_ME = r"(?:\s+(?:לי|אלי|אליי|לנו|אלינו|אותי))?"
HE_MESSAGES = (
    r"(?:את\s+)?(?:ה)?(?:הודעות|ספאם|פרסומות|פרסומים|מבצעים|עדכונים|דיוור|"
    r"וואטסאפים|ווטסאפים|הצעות|דירות|נכסים|שטויות)(?:\s+(?:האלה|האלו|הללו|שלכם))?"
)
HE_TAIL = (
    r"(?:\s+(?:יותר|עוד|בכלל|כבר|בבקשה|פליז|תודה|האלה|האלו|מכם|מעכשיו|לעולם|אף\s+פעם|מיד|מייד|"
    r"עכשיו|דחוף|שלכם|שלך|הזאת|הזו|הזה))*"
)
HE_CLAUSE_END = r"(?=\s*(?:$|[^\w\s]|(?:כי|אני|אנחנו|כבר|תודה|ו\w+)(?!\w)))"
"""Where a removal request must end: the clause's end, or "כי", "אני", "ו..." starting another."""
EN_FILL = r"(?:\s+(?:please|now|already|just))*"
EN_ME = r"(?:me|us|my\s+(?:number|phone(?:\s+number)?|details|contact|info)|this\s+number)"
EN_LIST_NOUN = (
    r"(?:\s+of)?(?:\s+(?:the|your|this|all|these|any|all\s+your))?"
    r"(?:\s+(?:mailing|contact|whatsapp|broadcast|distribution|marketing))?"
    r"\s+(?:list|lists|database|db|system|group|contacts|mailing\s+list)"
)
EN_LIST = rf"(?:\s+(?:off|out|from)(?:{EN_LIST_NOUN}|\s+(?:these|this|them|your\s+messages)))?"
EN_MESSAGES = (
    r"(?:(?:the|these|those|all|all\s+the|all\s+these|your|any|any\s+more|more|this|further)\s+)?"
    r"(?:messages?|texts?|whatsapps?|spam|promotions?|promos?|marketing|updates|notifications|"
    r"ads|offers|listings|properties|apartments|stuff|things|anything(?:\s+else)?|this|that|it)"
)
EN_TAIL = (
    r"(?:\s+(?:anymore|any\s+more|again|ever|please|thanks|thank\s+you|now|already|ok|okay|"
    r"from\s+(?:you|now\s+on)|at\s+all|for\s+good|asap|immediately|right\s+now))*"
)
EN_CLAUSE_END = r"(?=\s*(?:$|[^\w\s]|(?:and|because|since|cause|i|we|thanks|thank|already)(?!\w)))"
"""Where a removal request must end: "remove me from the viewing" is no opt-out."""
EN_BOTHER = (
    r"(?:sending|messaging|texting|contacting|spamming|writing|bothering|harassing|emailing|"
    r"whatsapping|pestering|reaching\s+out)"
)

OPT_OUT_WORDS = re.compile(
    r"(?:stop|stop\s+it|stop\s+this|stop\s+that|unsubscribe|unsub|opt\s*out|remove|remove\s+me|"
    r"הסר|הסרה|להסרה|להסיר|הסירו|תסיר|תסירו|תסירי|הסירו\s+אותי|סטופ|אנסבסקרייב)"
    r"(?:\s+(?:stop|unsubscribe|unsub|הסר|הסרה|סטופ|now|כבר))*".translate(FINAL_LETTERS)
)
"""A sentence made only of these (and :data:`POLITE` words) is an opt-out by itself."""

OPT_IN_WORDS = re.compile(
    r"(?:start|unstop|resume|subscribe|opt\s*in|התחל|התחילו|תתחילו|הפעל|חידוש)"
    r"(?:\s+(?:again|now|שוב|מחדש|כבר))*".translate(FINAL_LETTERS)
)
"""A message made only of these (and :data:`POLITE` words) asks to receive messages again;
anywhere else they are just words ("start by sending the price")."""

POLITE = frozenset(
    "please thanks thank you ok okay נא אנא בבקשה פליז תודה רבה אני מבקש מבקשת מבקשים "
    "אבקש נבקש רוצה רוצים i want to would like can you just we".translate(FINAL_LETTERS).split()
)

POLITE_CONDITIONS = re.compile(
    r"(?:אם\s+(?:אפשר|ניתן|לא\s+קשה|זה\s+לא\s+מפריע)|if\s+(?:possible|you\s+(?:can|could|would|"
    r"do\s+not\s+mind)))".translate(FINAL_LETTERS)
)
"""Conditions that are only politeness ("אם אפשר תסירו אותי"), removed before negations."""

OPT_OUT = (
    _rule(
        Intent.OPT_OUT,
        "remove me / my number from the list",
        WEIGHT_STRONG,
        rf"{B}[וש]?{HE_REMOVE}{HE_FILL}\s+(?:{HE_ME}(?:{HE_FILL}\s+{HE_LIST})?|{HE_LIST})"
        rf"{HE_TAIL}{HE_CLAUSE_END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "remove me / my number from the list",
        WEIGHT_STRONG,
        rf"{B}(?:(?:remove|delete|erase|unsubscribe|exclude)\s+{EN_ME}{EN_LIST}|"
        rf"take\s+{EN_ME}\s+off(?:{EN_LIST_NOUN})?|opt\s+{EN_ME}\s+out|"
        rf"(?:want|get\s+me|let\s+me)\s+out\s+of{EN_LIST_NOUN}){EN_TAIL}{EN_CLAUSE_END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "stop sending me messages",
        WEIGHT_STRONG,
        rf"{B}[וש]?{HE_STOP}!?{HE_FILL}\s+{HE_BOTHER}{HE_TO_ME}(?:\s+(?:יותר|עוד))?"
        rf"(?:\s+{HE_MESSAGES})?{HE_TAIL}{END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "enough of the messages",
        WEIGHT_STRONG,
        rf"{B}[וש]?(?:{HE_STOP}|די\s+כבר|מספיק\s+כבר){HE_FILL}\s+עם\s+{HE_MESSAGES}{HE_TAIL}{END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "stop sending me messages",
        WEIGHT_STRONG,
        rf"{B}(?:stop|quit|cease){EN_FILL}\s+(?:it\s+)?{EN_BOTHER}(?:\s+(?:me|us|to\s+me))?"
        rf"(?:\s+{EN_MESSAGES})?{EN_TAIL}{END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "stop the messages",
        WEIGHT_CLEAR,
        rf"{B}(?:stop|quit|no\s+more|enough)(?:\s+with)?\s+(?:the\s+|these\s+|all\s+|your\s+)?"
        rf"(?:messages|texts|whatsapps|spam|promotions|promos|marketing|updates|notifications|ads)"
        rf"{EN_TAIL}{END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "stop the messages",
        WEIGHT_CLEAR,
        rf"{B}(?:ה)?(?:הפסקת|עצירת|ביטול)\s+(?:ה)?(?:דיוור|פרסומות|מבצעים|הודעות|קידום\s+מכירות|"
        rf"ה?הודעות\s+שיווקיות){END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "don't send me any more",
        WEIGHT_CLEAR,
        rf"{B}(?:אל\s+(?:ת)?(?:שלחו|שלח|שלחי|כתבו|כתוב|כתבי|פנו|פנה|פני|טרידו|ציקו)|"
        rf"(?:לא|שלא)\s+(?:לשלוח|לכתוב|לפנות|להטריד|להציק|תשלחו|תשלח|תפנו|תפנה|תכתבו|תכתוב))"
        rf"{HE_TO_ME}(?:\s+(?:יותר|עוד))?(?:\s+{HE_MESSAGES})?{HE_TAIL}{END}",
        negators=frozenset({"למה", "מדוע", "אם"}),
    ),
    _rule(
        Intent.OPT_OUT,
        "no need to send me more",
        WEIGHT_LIKELY,  # also "no need for more reminders, I'll be there": a viewing outweighs it
        rf"{B}(?:אין\s+(?:צורך|צרי\w*)\s+(?:לשלוח|לכתוב|לפנות|בהודעות))"
        rf"{HE_TO_ME}(?:\s+(?:יותר|עוד))?(?:\s+{HE_MESSAGES})?{HE_TAIL}{END}|"
        rf"{B}no\s+need\s+to\s+(?:send|text|message|contact|write\s+to|whatsapp)\s+(?:me|us)"
        rf"(?:\s+{EN_MESSAGES})?{EN_TAIL}{END}",
        negators=frozenset({"למה", "מדוע", "אם", "why", "if", "unless"}),
    ),
    _rule(
        Intent.OPT_OUT,
        "don't send me any more",
        WEIGHT_CLEAR,
        rf"{B}(?:do\s+not|never)\s+(?:ever\s+)?"
        rf"(?:send|text|message|contact|write\s+to|whatsapp|bother|spam|email|sms|reach\s+out\s+to)"
        rf"\s+(?:me|us)(?:\s+{EN_MESSAGES})?{EN_TAIL}{END}",
        negators=frozenset({"why", "if", "unless"}),
    ),
    _rule(
        Intent.OPT_OUT,
        "I don't want any more messages",
        WEIGHT_CLEAR,
        rf"{B}(?:לא|אינני|איני)\s+(?:רוצה|רוצים|מעוניי?נ\w*|מעונינ\w*|צריכ\w*|צריך)\s+"
        rf"(?:לקבל|לקבלת|שתשלחו|שתשלח|שתפנו|שתכתבו|שיפנו){HE_TO_ME}(?:\s+(?:מכם|יותר|עוד|ממכם))*"
        rf"(?:\s+{HE_MESSAGES})?{HE_TAIL}{END}",
        negators=frozenset({"למה", "מדוע", "אם"}),
    ),
    _rule(
        Intent.OPT_OUT,
        "I don't want any more messages",
        WEIGHT_CLEAR,
        rf"{B}(?:do\s+not|no\s+longer)\s+(?:want|wish|need|like)\s+(?:to\s+(?:receive|get|"
        r"have)\s+)?"
        rf"{EN_MESSAGES}(?:\s+from\s+you)?{EN_TAIL}{END}",
        negators=frozenset({"why", "if", "unless"}),
    ),
    _rule(
        Intent.OPT_OUT,
        "no more messages",
        WEIGHT_CLEAR,
        rf"{B}(?:די|מספיק|לא|אין\s+צורך\s+ב)\s+(?:עוד|יותר)\s+(?:הודעות|ספאם|"
        rf"פרסומות){HE_TAIL}{END}",
    ),
    _rule(
        Intent.OPT_OUT,
        "leave me alone",
        WEIGHT_LIKELY,
        rf"{B}(?:ת?עזב(?:ו|י)?\s+(?:אותי|אותנו)(?:\s+(?:בשקט|כבר|בבקשה))*{END}|"
        rf"leave\s+(?:me|us)\s+alone{EN_TAIL}{EN_CLAUSE_END})",
    ),
    _rule(
        Intent.OPT_OUT,
        "blocking the sender",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:אני\s+)?(?:חוסם|חוסמת|חוסמים|אחסום|נחסום|חסמתי|חסמנו)\s+(?:אתכם|אותכם|אתכ|"
        rf"אותך|אתך|את\s+המספר)|(?:i\s+am|i\s+will|going\s+to|about\s+to)\s+block\s+(?:you|this)|"
        rf"blocking\s+(?:you|this)|(?:i|we)\s+(?:have\s+)?blocked\s+(?:you|this))",
    ),
    _rule(
        Intent.OPT_OUT,
        "calls it spam",
        WEIGHT_LIKELY,
        rf"{B}(?:זה|זו|זאת|this\s+is|its|it\s+is|this\s+is\s+just)\s+(?:ספאם|spam){END}(?!\s*\?)",
    ),
    _rule(
        Intent.OPT_OUT,
        "asks how to unsubscribe",
        WEIGHT_LIKELY,
        rf"{B}(?:how\s+(?:do\s+i|can\s+i|to|do\s+you|do\s+we)\s+(?:unsubscribe|opt\s+out|"
        rf"stop\s+(?:getting\s+|receiving\s+)?{EN_MESSAGES}){EN_TAIL}{END}|"
        rf"איך\s+(?:אני\s+)?(?:מסירים|מסיר|להסיר|מפסיקים|להפסיק|מבטלים|לבטל|יוצאים|לצאת)\s+"
        rf"(?:(?:לקבל|את|מ)\s*)?(?:{HE_MESSAGES}|(?:ה)?(?:רשימה|תפוצה|רישום|הרשמה)|"
        rf"אותי)?{HE_TAIL}{END})",
    ),
)

# --- wants a viewing -------------------------------------------------------------------

HE_PLACE = (
    rf"(?:ה)?(?:דירה|נכס|בית|מקום|וילה|פנטהאוז|דופלקס|יחידה|קוטג|דירת\s+{WORD}|מגרש|משרד|"
    r"דירת\s+הגן|גג)"
)
HE_COME = (
    r"(?:לבוא|להגיע|לקפוץ|לעבור|להציץ|לבקר|לעלות|לראות|לצפות|ש?נבוא|ש?אבוא|ש?נגיע|ש?אגיע|"
    r"ש?נקפוץ|ש?אקפוץ|ש?נעבור|ש?נראה|ש?אראה)"
)
HE_NOT_A_VISIT = (
    r"(?!\s+(?:את\s+)?(?:עוד\s+|קצת\s+)?(?:ה)?(?:תמונ|סרטונ|וידאו|תוכני|תכני|הסכמ|חוזה|מסמכ|"
    r"מודעה|מפה|פרטי|מחיר))"
)
HE_TIME = (
    rf"(?:מחר|מחרתיים|היום|הערב|ביום\s+{WORD}|בשעה\s*\d*|ב-?\d{{1,2}}(?::\d\d)?|\d{{1,2}}:\d\d|"
    r"(?:ב|ל|ביום\s+)?(?:ראשון|שני|שלישי|רביעי|חמישי|שישי|שבת)|בבוקר|בערב|בצהריים|אחהצ|"
    r"אחר\s+הצהריים|בשבוע\s+הבא|ב(?:אחת|שתיים|שלוש|ארבע|חמש|שש|שבע|שמונה|תשע|עשר|אחת\s+עשרה|"
    r"שתים\s+עשרה)(?:\s+וחצי)?)"
)
EN_PLACE = (
    r"(?:(?:the|this|that|your|it|its|ur)\s+)?(?:place|apartment|flat|house|property|unit|home|"
    r"villa|penthouse|duplex|condo|studio|it)"
)
EN_TIME = (
    r"(?:tomorrow|today|tonight|this\s+(?:evening|afternoon|morning|weekend|week)|"
    r"(?:on\s+)?(?:sun|mon|tues|wednes|thurs|fri|satur)day|next\s+week|"
    r"\d{1,2}(?::\d\d)?\s*(?:am|pm)?|(?:in\s+the\s+)?(?:morning|evening|afternoon)|noon)"
)
EN_NOT_A_VISIT = (
    r"(?!\s+(?:more\s+|the\s+|some\s+|any\s+|a\s+few\s+)?(?:photos|pics|pictures|video|videos|"
    r"floor\s*plans?|plans|contract|documents|details|price|listing|ad|map))"
)

WANTS_VIEWING = (
    _rule(
        Intent.WANTS_VIEWING,
        "come to see the place",
        WEIGHT_CLEAR,
        rf"{P}(?:לבוא|להגיע|לקפוץ|לעבור|להציץ|לבקר|לעלות|לראות|לצפות|נראה|אראה|נבוא|אבוא)"
        rf"(?:\s+{WORD}){{0,2}}?\s+(?:[בל]?{HE_PLACE}|לראות|לצפות|להציץ){HE_NOT_A_VISIT}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "asks when / whether they can come",
        WEIGHT_LIKELY,
        rf"{B}(?:אפשר|אוכל|נוכל|יכול\w*|מתי|אשמח|נשמח|רוצה|רוצים|מעוניי?נ\w*|מעונינ\w*|בא\s+לי)"
        rf"(?:\s+{WORD}){{0,2}}?\s+{HE_COME}{E}{HE_NOT_A_VISIT}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "book a viewing",
        WEIGHT_CLEAR,
        rf"{B}(?:לקבוע|לתאם|נקבע|נתאם|קובעים|מתאמים|אשמח|נשמח|אפשר|רוצה|רוצים|מעוניי?נ\w*|"
        rf"מעונינ\w*|להגיע)(?:\s+{WORD}){{0,2}}?\s+[לבה]{{0,2}}(?:צפייה|צפיה|סיור|ביקור|פגישה|"
        rf"viewing|showing|visit|tour){E}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "mentions a viewing",
        WEIGHT_HINT,
        rf"{P}(?:צפייה|צפיה|סיור\s+בנכס|סיור\s+בדירה|viewing|showing|open\s+house){E}",
        negators=NEGATORS | CANCELLING,
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "on the way / will be there",
        WEIGHT_FAIR,
        rf"{B}[ו]?(?:נתראה|מגיע|מגיעה|מגיעים|נגיע|אגיע|אהיה\s+שם|נהיה\s+שם|בדרך\s+אליכם){E}"
        rf"(?!\s+(?:ל(?:י|נו|כ|כם)|מ))",
        negators=NEGATORS | frozenset({"אתה", "את", "שאתה", "כשאתה", "כשאת", "you"}),
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "accepts a time",
        WEIGHT_HINT,
        rf"{B}(?:(?:מתאים|מסתדר|סגור|עובד|אפשרי|בסדר)(?:\s+(?:לי|לנו))?(?:\s+{WORD}){{0,3}}?\s+"
        rf"{HE_TIME}|{HE_TIME}\??(?:\s+{WORD}){{0,3}}?\s+(?:מתאים|מסתדר|סגור|עובד|אפשרי)){E}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "moves the viewing",
        WEIGHT_FAIR,
        rf"{B}(?:לדחות|להזיז|להקדים|לשנות\s+(?:את\s+)?(?:ה)?(?:שעה|מועד|פגישה|צפייה)|"
        rf"אפשר\s+(?:ב|ביום\s+|ל)(?:ראשון|שני|שלישי|רביעי|חמישי|שישי|שבת|מחר|מחרתיים|שבוע\s+הבא)|"
        rf"(?:can|could)\s+we\s+(?:do|make\s+it|move\s+(?:it\s+)?to|change\s+(?:it\s+)?to|"
        rf"switch\s+to)\s+{EN_TIME}|(?:lets|let\s+us)\s+(?:do|say|make\s+it|go\s+with|meet)\s+"
        rf"{EN_TIME}|(?:can|could|shall)\s+(?:we|i)\s+meet|reschedule){E}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "asks to come and see",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:can|could|may|shall)\s+(?:i|we)|when\s+(?:can|could|should|shall)\s+(?:i|we)|"
        rf"(?:i|we)\s+(?:can|could)\s+come|want\s+to|would\s+like\s+to|like\s+to|love\s+to|"
        rf"keen\s+to|lets|let\s+us|possible\s+to|able\s+to)\s+(?:please\s+)?"
        rf"(?:come\s+(?:and\s+)?(?:see|view|visit|look|check)|come\s+(?:by|over|round|around)|see|"
        rf"view|visit|tour|check\s+(?:it\s+|this\s+|the\s+place\s+)?out|look\s+at|have\s+a\s+look|"
        rf"take\s+a\s+look|stop\s+by|"
        rf"drop\s+by|swing\s+by|pop\s+(?:by|in|over)|come){E}{EN_NOT_A_VISIT}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "see the place",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:see|view|visit|tour|check\s+out|look\s+at)\s+{EN_PLACE}|"
        rf"show\s+(?:me|us)\s+(?:around|{EN_PLACE})){E}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "book a viewing",
        WEIGHT_CLEAR,
        rf"{B}(?:book|schedule|arrange|set\s+up|setup|organi[sz]e|make|plan|get)\s+"
        rf"(?:a\s+|the\s+|an\s+)?(?:viewing|showing|visit|tour|appointment|time\s+to\s+"
        rf"(?:see|view|visit|tour|come)){E}",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "drops by",
        WEIGHT_FAIR,
        rf"{B}(?:stop|drop|swing|pop|come)\s+(?:by|over|round|in)\b(?!\s+(?:the\s+|your\s+|"
        r"our\s+)?office)",
    ),
    _rule(
        Intent.WANTS_VIEWING,
        "accepts a time",
        WEIGHT_FAIR,
        rf"{B}(?:see\s+you\s+(?:there|then|tomorrow|soon|at|on)|(?:i|we)\s+will\s+be\s+there|"
        rf"(?:works|good|fine|ok|okay|perfect|great|suits)(?:\s+for)?\s+(?:me|us)\s+(?:{WORD}\s+)?"
        rf"{EN_TIME}|{EN_TIME}\s+(?:{WORD}\s+)?(?:works|is\s+(?:good|fine|perfect|great)|"
        rf"suits)){E}",
    ),
)

# --- asks the price or details ---------------------------------------------------------

ASKS_PRICE = (
    _rule(
        Intent.ASKS_PRICE,
        "asks how much",
        WEIGHT_CLEAR,
        rf"{B}(?:כמה\s+(?:זה\s+)?(?:עולה|עולים|יוצא|המחיר|מחיר|משלמים|לחודש|בחודש|זה)|כמה\s*\?|"
        rf"how\s+much|מה\s+(?:ה)?(?:מחיר|עלות|שכירות|שכר\s+(?:ה)?דירה)|"
        r"(?:whats|what\s+is|what\s+are)\s+(?:the\s+|your\s+)?(?:asking\s+)?(?:price|rent|cost|"
        r"fee)s?|"
        rf"(?:price|מחיר)\s*\?){E}",
    ),
    _rule(
        Intent.ASKS_PRICE,
        "mentions the price",
        WEIGHT_HINT,
        rf"{P}(?:מחיר|מחירים|עלות|תיווך|תשלומים|פריסה|payments|installments|ארנונה|ועד\s+(?:ה)?בית|"
        r"שכר\s+(?:ה)?דירה|שכד|שכירות|עמלה|"
        rf"דמי\s+תיווך|דמי\s+ניהול|משכנתא|מכירה|למכירה|להשכרה|גמישות|גמיש|price|prices|pricing|"
        rf"cost|costs|rent|asking|arnona|vaad|fee|fees|commission|deposit|negotiable|mortgage|"
        rf"for\s+sale|for\s+rent){E}",
        negators=frozenset(),  # "לא מעוניין לשלם תיווך, יש בלי?" still asks about the fee
        asks=True,
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks about size, rooms or floor",
        WEIGHT_LIKELY,
        rf"{B}(?:כמה\s+(?:חדרים|מטר|מטרים|מר|קומות|ועד|ארנונה|חניות|שירותים|מקלחות)|"
        rf"(?:ב)?(?:איזו|איזה)\s+קומה|מה\s+(?:ה)?(?:גודל|שטח|כתובת|קומה|מצב|תאריך\s+(?:ה)?כניסה)|"
        r"how\s+(?:big|large)|what\s+size|how\s+many\s+(?:rooms|bedrooms|bathrooms|sqm|meters|"
        r"metres|floors|square)|"
        rf"(?:what|which)\s+floor|(?:whats|what\s+is)\s+(?:the\s+)?(?:address|size|sqm|floor|"
        rf"area|location|arnona|vaad))",
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks what the property has",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:יש|אין|עם|כולל)(?:\s+(?:גם|שם|בה|בו|בדירה|בבניין))?\s+[ו]?(?:ה)?(?:חני\w*|"
        r"מעלית|"
        rf"ממד|מחסן|מרפסת|מזגנ\w*|מיזוג|גינה|חצר|מקלט|סורגים|ריהוט|מרוהט\w*|בריכה|שומר|נגישות|"
        rf"תיווך|עמלה|דמי\s+\w+)|"
        rf"(?:is\s+there|are\s+there|(?:does|do)\s+(?:it|you|the\s+\w+|they)\s+have|has\s+it\s+got|"
        rf"any|with)\s+"
        rf"(?:a\s+|an\s+)?(?:parking|elevator|lift|balcony|storage|safe\s*room|mamad|shelter|"
        rf"bomb\s+shelter|ac|air\s*con\w*|garden|yard|pool|furniture|gym|doorman|view|bus\s+stop|"
        rf"train|school))",
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks about a feature",
        WEIGHT_HINT,
        rf"{P}(?:מעלית|חני\w*|ממד|מחסן|מרפסת|קומה|מטר|מטרים|מר|חדרים|כתובת|כניסה|בעלי\s+חיים|"
        rf"כלב|חתול|משופצ\w*|שיפוצ\w*|מרוהט\w*|parking|elevator|lift|balcony|furnished|pets?|"
        rf"renovated|renovation|condition|sqm|square\s+met(?:er|re)s?|m2|"
        rf"address|location|neighbou?rhood|floor|rooms?|bedrooms?|how\s+long|כמה\s+זמן){E}",
        asks=True,
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks whether it is still available",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:עדיין|עוד)\s+(?:פנוי|פנויה|זמין|זמינה|רל[וב]{{1,2}}נ[טת]י\w*|בשוק|למכירה|"
        r"להשכרה|"
        rf"קיים|קיימת)|still\s+(?:available|on\s+the\s+market|for\s+(?:sale|rent)|free)|"
        rf"(?:is\s+(?:it|this|the\s+\w+)\s+)?available\s*\?|when\s+can\s+(?:i|we)\s+move\s+in|"
        rf"move\s+in\s+date|מתי\s+(?:ה)?כניסה|תאריך\s+כניסה|(?:כבר\s+)?(?:נמכר|נמכרה|הושכר|הושכרה|"
        rf"תפוס|תפוסה)\s*\?|(?:already\s+)?(?:sold|rented|taken)\s*\?){E}",
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks for details or photos",
        WEIGHT_HINT,
        rf"{P}(?:פרטים|מידע|תמונות|תמונה|סרטון|וידאו|תוכנית|תכנית|מפרט|details|detail|info|"
        rf"information|photos|photo|pics|pictures|video|videos|floor\s*plans?){E}",
        asks=True,
    ),
    _rule(
        Intent.ASKS_PRICE,
        "asks about the area",
        WEIGHT_WEAK,
        rf"{B}(?:near|nearby|close\s+to|close\s+by|(?:is|are)\s+(?:\w+\s+){{0,3}}?(?:close|far)|"
        r"far\s+from|walking\s+distance|how\s+far|how\s+close|noise|"
        rf"noisy|quiet|traffic|schools|neighbors|neighbours|קרוב\s+ל|רחוק\s+מ|שקט|רעש|שכונה|"
        rf"בתי\s+ספר|תחבורה){E}",
        asks=True,
    ),
    _rule(
        Intent.ASKS_PRICE,
        "money emoji",
        WEIGHT_WEAK,
        r"[💰💸💵💲₪]",
    ),
)

# --- not interested --------------------------------------------------------------------

NOT_TO_DO = r"(?!\s+ל(?!ראות|קנות|שכור|המשיך|בוא|הגיע)[א-ת]{2,}|\s+in\s+\w+ing(?!\w))"
"""Not "not interested in doing X" (paying a fee, waiting): that is a condition, not a no."""

NOT_INTERESTED = (
    _rule(
        Intent.NOT_INTERESTED,
        "not interested",
        WEIGHT_CLEAR,
        rf"{B}(?:לא|ממש\s+לא|כבר\s+לא|אינני|איני)\s+(?:מעוניי?נ\w*|מעונינ\w*|מענינ\w*){NOT_TO_DO}|"
        rf"{B}לא\s+מעניי?נ\w*\s+(?:אותי|אותנו)|{B}not\s+(?:really\s+|very\s+|that\s+|too\s+)?"
        rf"interested{NOT_TO_DO}|{B}no\s+(?:longer\s+)?interest(?:ed)?{E}|{B}uninterested{E}",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "not interested in doing something",  # "לא מעוניין לחכות, אפשר מחר?": a condition
        WEIGHT_WEAK,
        rf"{B}(?:לא|אינני|איני)\s+(?:מעוניי?נ\w*|מעונינ\w*)\s+ל[א-ת]{{2,}}|"
        rf"{B}not\s+interested\s+in\s+\w+ing{E}",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "not relevant / not for us",
        WEIGHT_LIKELY,
        rf"{B}(?:לא|כבר\s+לא|זה\s+לא)\s+(?:ה)?(?:רל[וב]{{1,2}}נ[טת]י\w*|בשבילנו|בשבילי|מתאים\w*|"
        rf"בשביל\w*)(?!\s+(?:לי\s+|לנו\s+)?{HE_TIME})|"
        rf"{B}(?:זה\s+)?לא\s+(?:בדיוק\s+)?מה\s+ש(?:אני\s+|אנחנו\s+|אנו\s+)?(?:מחפש\w*|חיפש\w*|"
        r"רצינו|רציתי)|"
        rf"{B}not\s+(?:for\s+(?:me|us)|relevant|(?:a\s+)?(?:good\s+)?(?:fit|match)|"
        rf"(?:exactly\s+)?what\s+(?:i|we)\s+(?:am\s+|are\s+)?(?:looking|searching|want|need))",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "found something else",
        WEIGHT_LIKELY,
        rf"{B}(?:כבר\s+(?:מצאנו|מצאתי|קנינו|קניתי|שכרנו|שכרתי|חתמנו|חתמתי|רכשנו|רכשתי)|"
        rf"(?:מצאנו|מצאתי|קנינו|קניתי|שכרנו|שכרתי|חתמנו|חתמתי|רכשנו|רכשתי)\s+(?:כבר\s+)?"
        rf"(?:משהו|דירה|בית|נכס|מקום|אחר\w*|במקום)|"
        r"(?:we|i|already)\s+(?:already\s+|just\s+)?(?:found|bought|rented|signed|purchased|"
        r"leased|"
        rf"went\s+with|took)\s+(?:on\s+)?(?:a\s+|an\s+)?(?:another|something|somewhere|elsewhere|"
        rf"place|other|apartment|flat|house))",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "decided against it",
        WEIGHT_LIKELY,
        rf"{B}(?:החלטנו|החלטתי|הוחלט)\s+(?:להישאר|לוותר|לא|שלא|לחכות|להמשיך\s+לשכור|לעצור)|"
        rf"{B}(?:we|i)\s+(?:have\s+)?decided\s+(?:to\s+(?:stay|wait|hold\s+off|keep|rent)|not|"
        r"against)",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "too expensive / too small",
        WEIGHT_LIKELY,
        rf"{B}(?:יקר|יקרה|קטן|קטנה|גדול|גדולה|רחוק|רחוקה|ישן|ישנה|רועש|רועשת|חשוך|חשוכה|צפוף|צפופה)"
        rf"(?:\s+(?:לנו|לי))?\s+(?:מדי|מידי)|{B}יקר\s+(?:לנו|לי|בשבילנו|בשבילי)|"
        rf"{B}(?:ה)?מחיר\s+(?:מוגזם|גבוה\s+מדי|לא\s+(?:ריאלי|הגיוני|מתאים))|{B}מעל\s+(?:ה)?תקציב|"
        rf"{B}לא\s+(?:ב|מתאים\s+ל)(?:ה)?תקציב|"
        rf"{B}too\s+(?:expensive|pricey|high|far|small|big|noisy|old|costly|dark|cramped)|"
        rf"{B}(?:out\s+of|over|above|beyond)\s+(?:our|my|the)\s+(?:budget|price\s+range|range)|"
        rf"{B}can\s+not\s+afford",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "no thanks",
        WEIGHT_LIKELY,
        rf"{B}(?:לא\s+תודה|לא\s+כרגע\s+תודה|no\s+thanks|no\s+thank\s+you|nope|nah|no\s+way){E}",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "dropped the search",
        WEIGHT_LIKELY,
        rf"{B}(?:ירד|ירדה|ירדנו|ירדתי)\s+מה(?:פרק|עניין|ענין)|"
        rf"{B}(?:נוותר|אוותר|מוותר\w*|ויתרנו|ויתרתי|נעבור\s+על\s+זה){E}|"
        rf"{B}(?:we|i)\s+(?:will\s+)?pass{E}|{B}pass\s+on\s+(?:this|it|that)|"
        rf"{B}(?:going\s+to|gonna)\s+pass",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "no longer looking",
        WEIGHT_LIKELY,
        rf"{B}(?:כבר\s+)?לא\s+(?:מחפשים|מחפש|מחפשת|צריכים|צריך|צריכה)(?:\s+(?:יותר|כבר|עוד|"
        rf"דירה))*{E}|"
        rf"{B}(?:no\s+longer|not)\s+(?:looking|searching|in\s+the\s+market)|"
        rf"{B}(?:כבר\s+)?לא\s+בשוק|"
        rf"{B}(?:stopped|done)\s+looking",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "not now",
        WEIGHT_HINT,
        r"^(?:maybe\s+)?(?:not\s+(?:now|at\s+the\s+moment|right\s+now|at\s+this\s+time)|"
        r"לא\s+(?:כרגע|עכשיו|בינתיים))|(?<!\w)לא\s+בא\s+לי(?!\s+(?:לי\s+)?" + HE_TIME + ")",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "wrong number",
        WEIGHT_FAIR,
        rf"{B}(?:wrong\s+number|טעות\s+במספר|מספר\s+שגוי|never\s+(?:asked|signed\s+up|applied)|"
        rf"did\s+not\s+(?:ask|sign\s+up|apply)|לא\s+(?:ביקשתי|פניתי|השארתי\s+פרטים))",
    ),
    _rule(
        Intent.NOT_INTERESTED,
        "thumbs down",
        WEIGHT_WEAK,
        r"👎",
    ),
)

LAUGHTER = re.compile(r"[😂🤣😅😆😹]|(?<!\w)(?:חח|ח|haha\w*|hehe\w*|lol|lmao|rofl)(?!\w)")
"""A laugh: a message that laughs is not an opt-out by its bare words ("stop 😂")."""

NO_ALONE = re.compile(r"(?:לא|no|nope|nah)(?:\s+(?:לא|no))*")
"""A message that is only "no" reads as not interested, weakly."""

# --- wants a call ----------------------------------------------------------------------

CALL_NEGATORS = NEGATORS | frozenset({"stop", "quit", "תפסיקו", "תפסיק", "תפסיקי", "להפסיק", "די"})

WANTS_CALL = (
    _rule(
        Intent.WANTS_CALL,
        "call me",
        WEIGHT_CLEAR,
        rf"{B}[וש]?(?:תתקשר\w*|התקשר|התקשרו|התקשרי|להתקשר|תצלצל\w*|צלצל|צלצלו|לצלצל|תחייג\w*|"
        rf"חייג|חייגו|לחייג|תרים\w*\s+(?:לי\s+)?טלפון|להרים\s+(?:לי\s+)?טלפון){E}",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "will call you",
        WEIGHT_FAIR,
        rf"{B}[וש]?(?:אתקשר|נתקשר|אצלצל|נצלצל|אחייג)(?:\s+(?:אליכ|אליך|אלייך|אליכם))?{E}|"
        rf"{B}(?:i|we)\s+(?:will|can|could|would\s+like\s+to|want\s+to)\s+call\s+(?:you|your)",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "talk on the phone",
        WEIGHT_CLEAR,
        rf"{B}[וש]?(?:לדבר|נדבר|לשוחח|תחזור|תחזרי|תחזרו|לחזור|חזור|חזרו|דברו|"
        rf"תדבר)(?:\s+{WORD}){{0,2}}?"
        rf"\s+(?:בטלפון|טלפונית|בטל){E}|{B}(?:שיחה|שיחת)\s+(?:טלפון|טלפונית){E}|"
        rf"{B}(?:עדיף|מעדיפ\w*)\s+(?:שיחה|בטלפון|טלפונית|לדבר|שתתקשר\w*)|"
        rf"{B}(?:אפשר|אשמח|נשמח|רוצה|מבקש\w*|לתאם|"
        rf"לקבוע)\s+(?:{WORD}\s+)?ל?שיחה(?!\s+(?:ב)?וו?אטסאפ)",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "asks for your number",
        WEIGHT_HINT,
        rf"{B}(?:מה|תן|תני|תנו|שלח|תשלח|תשלחו)\s+(?:לי\s+)?(?:את\s+)?(?:ה)?(?:מספר|טלפון|נייד|"
        r"מספר\s+"
        rf"הטלפון)\s+(?:שלך|שלכם)|{B}(?:whats|what\s+is)\s+(?:your|the)\s+(?:number|phone|cell)",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "call me",
        WEIGHT_CLEAR,
        rf"{B}(?:(?:call|ring|phone|buzz)\s+(?:me|us)|give\s+(?:me|us)\s+a\s+(?:call|ring|buzz|"
        r"bell)|"
        rf"call\s+back|callback|(?:can|could|would|will|please)\s+(?:you|someone|somebody|"
        rf"an\s+agent|one\s+of\s+you|the\s+agent)\s+(?:please\s+)?(?:call|ring|phone)){E}",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "talk on the phone",
        WEIGHT_LIKELY,
        rf"{B}(?:(?:on|by|over)\s+the\s+phone|phone\s+call|(?:talk|speak|chat)\s+(?:by|on|over)\s+"
        rf"(?:the\s+)?phone|prefer\s+(?:a\s+)?(?:call|calling|to\s+talk|talking|to\s+speak)){E}",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "call (imperative)",
        WEIGHT_LIKELY,
        r"(?:^|(?<=[,.!?;])|(?<=[,.!?;]\s)|(?<=\bbut\s)|(?<=\bso\s)|(?<=\bjust\s)|(?<=\band\s)|"
        r"(?<=\bthen\s))call(?:\s+(?:me|after|before|at|"
        r"tomorrow|tonight|later|today|this|in|on|when|back))(?!\w)",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "tried to call",
        WEIGHT_HINT,
        rf"{B}(?:missed\s+(?:your|a)\s+call|tried\s+(?:to\s+)?(?:call|calling|reach|phone)|"
        rf"ניסיתי\s+(?:להשיג|להתקשר|לתפוס)|פספסתי\s+(?:את\s+)?(?:ה)?שיחה)",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "mentions a call",  # weak, but its negation explains "please don't call"
        WEIGHT_WEAK,
        rf"{B}(?:call|calls|calling|phone\s+calls?|שיחה|שיחות|טלפונים){E}",
        negators=CALL_NEGATORS,
    ),
    _rule(
        Intent.WANTS_CALL,
        "phone emoji",
        WEIGHT_WEAK,
        r"[📞☎📱]",
        negators=frozenset(),
    ),
)

RULES: tuple[Rule, ...] = OPT_OUT + WANTS_VIEWING + ASKS_PRICE + NOT_INTERESTED + WANTS_CALL
