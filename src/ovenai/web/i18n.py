"""The dashboard's languages: Hebrew (the default) and English, through gettext catalogs.

Every string a page shows is an English msgid translated by a Babel catalog,
``locale/{he,en}/LC_MESSAGES/messages.po``. ``make messages`` extracts the msgids (from the
templates, and from ``_``/``gettext``/``ngettext``/``N_`` calls in ``ovenai.web``) and
updates both catalogs; tests/web/dashboard/test_i18n.py fails while one lacks a translation.
Only the .po files are kept: they are compiled in memory when this module is imported, so
nothing has to be built before serving and no compiled file can drift from its source.

Which language a request gets: the signed-in user's (``users.language``, chosen on
/account; the session dependency records it on ``request.state``), else the ``ovenai_lang``
cookie (chosen on the login page before signing in, and set to the user's language at
sign-in and when they change it, so error pages outside a session and the login page after
signing out follow it too), else Hebrew.

Errors a page shows are translated by their message. The domain raises fixed English
sentences (module constants, such as ``signin.WRONG_CREDENTIALS``; a value such as an
e-mail address is never inside the sentence): :data:`DOMAIN_MESSAGES` gives each one the
page's msgid. The web layer's own errors carry a msgid as their message (``N_``). Any other
error is shown by its status (:data:`_STATUS`), never in English on a Hebrew page. The JSON
API keeps the domain's English messages.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import Response

from ovenai import accounts, auth, kpis, password_policy, signin
from ovenai.errors import OvenAIError
from ovenai.models import Language, MessageStatus, Role, Stage
from ovenai.settings import Environment as Deployment
from ovenai.web.deps import get_settings

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT = Language.HE
COOKIE = "ovenai_lang"
COOKIE_SECONDS = 365 * 24 * 3600
# Each language named in itself, for the choice on the login page and /account.
NAMES = {Language.HE: "עברית", Language.EN: "English"}
_DIRECTIONS = {Language.HE: "rtl", Language.EN: "ltr"}
# How Israelis write a time, in either language: 07/12/2026 14:05 (24 hours).
DATE_TIME = "%d/%m/%Y %H:%M"


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is translated later (tables, error messages)."""
    return message


# The values the domain's sentences hold, for the page's msgids to say them again.
_VALUES: dict[str, object] = {
    "min_length": password_policy.MIN_LENGTH,
    "max_length": password_policy.MAX_LENGTH,
    "minutes": int(signin.WINDOW.total_seconds() // 60),
}

# Every domain message a page can show → the page's msgid.
DOMAIN_MESSAGES: dict[str, str] = {
    signin.WRONG_CREDENTIALS: N_("The e-mail address or password is wrong."),
    signin.TOO_MANY_ATTEMPTS: N_("Too many failed attempts; try again in %(minutes)d minutes."),
    signin.WRONG_CURRENT_PASSWORD: N_("The current password is wrong."),
    password_policy.TOO_SHORT: N_("A password needs at least %(min_length)d characters."),
    password_policy.TOO_LONG: N_("A password may have at most %(max_length)d characters."),
    password_policy.IS_THE_EMAIL: N_("A password may not be the e-mail address."),
    password_policy.TOO_COMMON: N_(
        "This password is among the most common ones and is guessed first; choose another."
    ),
    accounts.CANNOT_DISABLE_SELF: N_("You cannot disable yourself; ask another admin."),
    accounts.LAST_ADMIN: N_("This is the last active admin; enable another admin first."),
    accounts.SAME_PASSWORD: N_("The new password is the current one."),
    auth.NOT_AN_EMAIL: N_("This is not an e-mail address."),
    auth.EMAIL_TAKEN: N_("A user with this e-mail address already exists."),
    kpis.PERIOD_BACKWARDS: N_("The last day must not come before the first."),
    kpis.PERIOD_TOO_LONG: N_("A period may span at most 366 days."),
}

_NOT_FOUND = (N_("Not found"), N_("There is no such page, or it is not open to you."))
_BROKEN = (N_("Something went wrong"), N_("Something went wrong on our side; try again soon."))
# What a page says for an error by its status: a heading, and the text when the error's
# own message has no translation.
_STATUS: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The request could not be read.")),
    401: (N_("Sign-in needed"), N_("Please sign in.")),
    403: (N_("Refused"), N_("You may not do this; reload the page and try again.")),
    404: _NOT_FOUND,
    405: _NOT_FOUND,
    409: (N_("Conflict"), N_("This clashes with what is stored; reload the page and try again.")),
    # A lead erased on request or by retention: 404 stays for what never existed.
    410: (
        N_("The lead was erased"),
        N_(
            "The lead's details and the conversation with them were erased (at their request"
            " or at the end of the retention period) and are no longer available."
        ),
    ),
    422: (N_("Invalid value"), N_("A value in the form is not valid; correct it and try again.")),
    429: (N_("Too many attempts"), N_("Too many attempts; try again in a few minutes.")),
    500: _BROKEN,
    502: (N_("WhatsApp answered with an error"), N_("WhatsApp's service failed; try again soon.")),
    503: (N_("Unavailable"), N_("The service is unavailable right now; try again soon.")),
}

# Stored values a page shows as words: kind → value → msgid.
LABELS: dict[str, dict[str, str]] = {
    "role": {Role.ADMIN: N_("Admin"), Role.AGENT: N_("Agent")},
    "language": {Language.HE: N_("Hebrew"), Language.EN: N_("English")},
    "stage": {
        Stage.NEW: N_("New"),
        Stage.CONTACTED: N_("Contacted"),
        Stage.VIEWING_SCHEDULED: N_("Viewing scheduled"),
        Stage.VIEWING_DONE: N_("Viewing done"),
        Stage.NEGOTIATION: N_("Negotiation"),
        Stage.CONTRACT: N_("Contract"),
        Stage.WON: N_("Won"),
        Stage.LOST: N_("Lost"),
    },
    "message_status": {
        MessageStatus.QUEUED: N_("Queued"),
        MessageStatus.SENDING: N_("Sending"),
        MessageStatus.SENT: N_("Sent"),
        MessageStatus.DELIVERED: N_("Delivered"),
        MessageStatus.READ: N_("Read"),
        MessageStatus.FAILED: N_("Failed"),
        MessageStatus.RECEIVED: N_("Received"),
    },
    # A message without text or template is shown by its kind (Meta's message types).
    "message_type": {
        "text": N_("Text"),
        "template": N_("Template"),
        "image": N_("Image"),
        "video": N_("Video"),
        "audio": N_("Audio"),
        "document": N_("Document"),
        "sticker": N_("Sticker"),
        "location": N_("Location"),
        "contacts": N_("Contacts"),
        "interactive": N_("Interactive reply"),
        "button": N_("Button reply"),
        "reaction": N_("Reaction"),
        "order": N_("Order"),
        "system": N_("System message"),
        "unsupported": N_("Unsupported message"),
        "edit": N_("Edited message"),
        "revoke": N_("Deleted message"),
        "request_welcome": N_("Welcome request"),
        "unknown": N_("Unknown message"),
    },
    # webhook_events.status
    "webhook_status": {
        "pending": N_("Waiting to be processed"),
        "processed": N_("Processed"),
        "failed": N_("Processing failed"),
    },
}


@dataclass(frozen=True)
class Translator:
    """One language's catalog, and the ways pages and routes say things in it."""

    language: Language
    catalog: gettext.GNUTranslations
    msgids: frozenset[str]

    @property
    def direction(self) -> str:
        """``rtl`` for Hebrew, ``ltr`` for English."""
        return _DIRECTIONS[self.language]

    def gettext(self, message: str, /, **values: object) -> str:
        """The translation of a msgid, its ``%(name)s`` filled from ``values``.

        Always formatted (as Jinja's newstyle gettext does), so a literal % is written %%.
        Templates escape the result like any other value.
        """
        return self.catalog.gettext(message) % values

    def ngettext(self, singular: str, plural: str, num: int, /, **values: object) -> str:
        """The translation of a msgid with plural forms for ``num`` (``%(num)d`` in it)."""
        values.setdefault("num", num)
        return self.catalog.ngettext(singular, plural, num) % values

    def label(self, kind: str, value: str) -> str:
        """A stored value (a stage, a status, a role...) as words; unknown values as they are."""
        msgid = LABELS[kind].get(value)
        return value if msgid is None else self.gettext(msgid)

    def error_title(self, status: int) -> str:
        """The heading of an error page for an HTTP status."""
        return self.gettext(_STATUS.get(status, _BROKEN)[0])

    def error_text(self, exc: OvenAIError) -> str:
        """What a page says of an error (see the module docstring), never the domain's English."""
        msgid = DOMAIN_MESSAGES.get(exc.message)
        if msgid is not None:
            return self.gettext(msgid, **_VALUES)
        if exc.message in self.msgids:  # the web layer's own errors (CSRF refusals)
            return self.gettext(exc.message)
        return self.status_text(exc.http_status)

    def status_text(self, status: int) -> str:
        """What an error page says for an HTTP status when there is nothing more precise."""
        return self.gettext(_STATUS.get(status, _BROKEN)[1])


def _load(language: Language) -> Translator:
    path = LOCALE_DIR / language.value / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language.value)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    msgids = frozenset(message.id for message in catalog if isinstance(message.id, str))
    return Translator(language, gettext.GNUTranslations(compiled), msgids - {""})


TRANSLATORS: dict[Language, Translator] = {language: _load(language) for language in Language}


def parse(value: str | None) -> Language | None:
    """A language code as given (a query, a cookie), or None when it names no language."""
    return next((language for language in Language if language.value == value), None)


def language_of(request: Request) -> Language:
    """The request's language: the signed-in user's, else the cookie's, else Hebrew."""
    chosen = getattr(request.state, "language", None)
    if isinstance(chosen, Language):
        return chosen
    return parse(request.cookies.get(COOKIE)) or DEFAULT


def translator(request: Request) -> Translator:
    """The translator of the request's language."""
    return TRANSLATORS[language_of(request)]


def remember(request: Request, response: Response, language: Language) -> None:
    """Set the language cookie (not a secret: it only picks the pages' language)."""
    response.set_cookie(
        COOKIE,
        language.value,
        max_age=COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=get_settings(request).environment is Deployment.PRODUCTION,
    )


def page_context(request: Request) -> dict[str, Any]:
    """What every page's template gets for its language (a Jinja2Templates context processor).

    ``gettext``/``ngettext`` are this request's: the Jinja environment is shared by every
    request, so nothing language-specific is installed on it.
    """
    words = translator(request)
    return {
        "language": words.language.value,
        "direction": words.direction,
        "languages": [(language.value, name) for language, name in NAMES.items()],
        "gettext": words.gettext,
        "ngettext": words.ngettext,
        "label": words.label,
        "zone": get_settings(request).zone,
        "min_password_length": password_policy.MIN_LENGTH,
    }


@pass_context
def local_time(context: Context, value: datetime) -> str:
    """A moment as Israelis write it (dd/mm/yyyy HH:MM), in the agency's time zone."""
    return value.astimezone(context["zone"]).strftime(DATE_TIME)


def install(env: Environment) -> None:
    """Enable gettext in the templates (``_``, ``{% trans %}``) and the ``local_time`` filter."""
    env.add_extension("jinja2.ext.i18n")
    env.newstyle_gettext = True  # type: ignore[attr-defined]  # set by the i18n extension
    env.policies["ext.i18n.trimmed"] = True
    env.filters["local_time"] = local_time
