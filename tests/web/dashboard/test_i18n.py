"""The dashboard in Hebrew and English: complete catalogs, no text outside gettext, every page
in either language over HTTP, the user's choice and the cookie before signing in, error
pages, dates as Israelis write them, and the migration that gives users a language."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment
from sqlalchemy import create_engine, inspect, text

from ovenai import accounts, auth, automation, document_checklist, password_policy, signin
from ovenai.db import downgrade, upgrade
from ovenai.endpoints import WEBHOOK_PATH
from ovenai.engines import sync_url
from ovenai.errors import Conflict, Gone, InvalidInput, NotFound
from ovenai.events.enums import MessageType
from ovenai.ingest.receive.signature import SIGNATURE_HEADER, sign
from ovenai.models import Language, MessageStatus, Role, Stage
from ovenai.settings import Settings
from ovenai.web import i18n
from ovenai.web.dashboard.session import TEMPLATES
from support.automation import seed_default_rules
from support.dashboard import PASSWORD, csrf_of, make_user, sign_in
from support.migrations import blank_url  # noqa: F401  (a fixture of these tests)

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "src" / "ovenai" / "web"
TEMPLATE_DIR = WEB / "templates"
HEBREW = re.compile(r"[\u0590-\u05ff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
EMAIL = re.compile(r"[\w.+-]+@[\w.-]+")
# Words a page may show as they are, in either language.
ALLOWED_WORDS = {"OvenAI", "webhook", "API"}
# Literal text a template may hold outside gettext: names and commands, never prose.
ALLOWED_LITERALS = ("OvenAI", "ovenai webhooks replay --failed")
APP_SECRET = "test-app-secret"  # tests/conftest.py TEST_APP_SECRET


# The catalogs.


def _extracted() -> set[str]:
    """Every msgid `make messages` extracts (babel.cfg, from src/ovenai/web)."""
    with (ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        WEB, method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: Language) -> Any:
    path = WEB / "locale" / language.value / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source, locale=language.value)


@pytest.mark.parametrize("language", list(Language))
def test_every_extracted_msgid_is_translated_in_both_catalogs_and_none_is_obsolete(
    language: Language,
) -> None:
    catalog = _catalog(language)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    extracted = _extracted()
    assert extracted - ids == set(), "run `make messages` and translate the new entries"
    assert ids - extracted == set(), "entries no page uses any more: run `make messages`"
    assert not catalog.obsolete
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        assert forms and all(forms), f"untranslated: {message.id!r}"
    assert list(catalog.check()) == []  # placeholders of each translation match its msgid


def test_the_hebrew_catalog_is_hebrew() -> None:
    for message in _catalog(Language.HE):
        if message.id:
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(HEBREW.search(form) for form in forms), message.id


# No visible text outside gettext.


class _Tags(HTMLParser):
    """Attribute texts a reader sees (a placeholder, a label) in a template's literal HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"placeholder", "title", "aria-label", "alt"} and value:
                self.texts.append(value)


def _literal_text(source: str) -> tuple[str, list[str]]:
    """A template's literal HTML outside trans blocks (each Jinja tag or expression a space),
    and its string constants."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    html: list[str] = []
    strings: list[str] = []
    in_trans = False
    previous = ""
    for _line, kind, value in env.lex(source):
        if kind == "name" and previous == "block_begin":
            in_trans = value == "trans" or (in_trans and value != "endtrans")
        if kind == "data" and not in_trans:
            html.append(value)
        elif kind == "string":
            strings.append(value[1:-1])  # the lexer keeps the quotes
        elif kind in {"variable_begin", "block_begin"}:
            html.append(" ")
        if kind != "whitespace":
            previous = kind
    return "".join(html), strings


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATE_DIR.glob("*.html")))
def test_no_template_shows_text_outside_gettext(template: str) -> None:
    html, strings = _literal_text((TEMPLATE_DIR / template).read_text())
    tags = _Tags()
    tags.feed(html)
    shown = re.sub(r"<[^>]*>", " ", html)
    shown = re.sub(r"&\w+;|&#\d+;", " ", shown)
    for allowed in ALLOWED_LITERALS:
        shown = shown.replace(allowed, " ")
    assert not re.search(r"[^\W\d_]", shown), f"literal text in {template}: {shown.split()}"
    assert [t for t in tags.texts if re.search(r"[^\W\d_]", t)] == [], template
    assert [s for s in strings if HEBREW.search(s)] == []  # "{{ 'שלום' }}" is text too


def test_the_lexer_walk_finds_literal_text_and_skips_trans_blocks() -> None:
    """The check above would see a forgotten string, and leaves trans blocks to gettext."""
    html, strings = _literal_text(
        '<p title="x">Leads</p>{% trans %}Inside{% endtrans %}{{ "לידים" }}<b>{{ _("y") }}</b>'
    )
    assert "Leads" in html and "Inside" not in html
    assert strings == ["לידים", "y"]


def test_every_stored_value_a_page_shows_has_words_in_both_languages() -> None:
    expected = {
        "role": set(Role),
        "language": set(Language),
        "stage": set(Stage),
        "message_status": set(MessageStatus),
        "message_type": {kind.value for kind in MessageType} | {"template"},
        "webhook_status": {"pending", "processed", "failed"},
    }
    for kind, values in expected.items():
        assert set(i18n.LABELS[kind]) == values, kind
    hebrew = i18n.TRANSLATORS[Language.HE]
    assert hebrew.label("stage", Stage.VIEWING_SCHEDULED) == "נקבע סיור בנכס"
    assert hebrew.label("stage", "some_future_stage") == "some_future_stage"


def test_every_domain_message_a_page_shows_is_said_in_each_language() -> None:
    hebrew, english = i18n.TRANSLATORS[Language.HE], i18n.TRANSLATORS[Language.EN]
    for message in i18n.DOMAIN_MESSAGES:
        error = InvalidInput(message)
        assert HEBREW.search(hebrew.error_text(error)), message
        assert not HEBREW.search(english.error_text(error)), message
        assert "%(" not in hebrew.error_text(error) + english.error_text(error)
    short = InvalidInput(password_policy.TOO_SHORT)
    assert english.error_text(short) == "A password needs at least 10 characters."
    # Messages that embed a value are not translated by their text: they fall back to the
    # status, never to the English sentence.
    assert english.error_text(NotFound("no lead 0193")) == english.status_text(404)
    assert hebrew.error_text(Gone("lead 0193 was erased")) == hebrew.status_text(410)
    assert hebrew.error_text(Conflict("anything else")) == hebrew.status_text(409)


def test_the_domain_raises_the_messages_the_dashboard_translates() -> None:
    for bad, email in (("short", "a@b.c"), ("rina@agency.co.il", "rina@agency.co.il")):
        with pytest.raises(InvalidInput) as refused:
            password_policy.check(bad, email=email)
        assert refused.value.message in i18n.DOMAIN_MESSAGES
    with pytest.raises(InvalidInput) as refused:
        auth.normal_email("not an address")
    assert refused.value.message in i18n.DOMAIN_MESSAGES
    for message in (
        signin.WRONG_CREDENTIALS,
        signin.TOO_MANY_ATTEMPTS,
        signin.WRONG_CURRENT_PASSWORD,
        accounts.CANNOT_DISABLE_SELF,
        accounts.LAST_ADMIN,
        accounts.SAME_PASSWORD,
        auth.EMAIL_TAKEN,
    ):
        assert message in i18n.DOMAIN_MESSAGES


def test_times_are_written_as_israelis_write_them_in_the_agencys_zone() -> None:
    template = TEMPLATES.env.from_string("{{ moment|local_time }}")
    zone = ZoneInfo("Asia/Jerusalem")
    summer = datetime(2026, 7, 1, 21, 5, tzinfo=UTC)  # UTC+3
    winter = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # UTC+2
    assert template.render(moment=summer, zone=zone) == "02/07/2026 00:05"
    assert template.render(moment=winter, zone=zone) == "01/01/2027 00:30"


# Every page over HTTP, in each language.


class _Visible(HTMLParser):
    """The text a reader of a page sees, and its placeholders and labels; leaving out what
    is marked as another language (the choice of language) and, when asked, what is marked
    left-to-right (e-mails, phones, ids, addresses, Meta's errors: data)."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self, language: str, skip_ltr: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.language, self.skip_ltr = language, skip_ltr
        self.skipping: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        skipped = (
            bool(self.skipping and self.skipping[-1])
            or found.get("lang", self.language) != self.language
            or (self.skip_ltr and found.get("dir") == "ltr")
        )
        if not skipped:
            for name in ("placeholder", "title", "aria-label", "alt"):
                self.parts.append(found.get(name) or "")
        if tag not in self.VOID:
            self.skipping.append(skipped)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.skipping:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not (self.skipping and self.skipping[-1]):
            self.parts.append(data)


def _visible(page: httpx.Response, language: str, *, skip_ltr: bool) -> str:
    reader = _Visible(language, skip_ltr)
    reader.feed(page.text)
    return " ".join(reader.parts)


def _check(page: httpx.Response, language: Language, data: list[str]) -> None:
    """The page is wholly in ``language``: English shows no Hebrew letter but in its data;
    Hebrew shows Hebrew, and Latin letters only in data or the allowed words."""
    where = page.request.url.path
    if language is Language.EN:
        assert '<html lang="en" dir="ltr">' in page.text, where
        shown = _visible(page, "en", skip_ltr=False)
        for value in data:
            shown = shown.replace(value, " ")
        assert not HEBREW.search(shown), f"{where}: {shown}"
    else:
        assert '<html lang="he" dir="rtl">' in page.text, where
        shown = EMAIL.sub(" ", _visible(page, "he", skip_ltr=True))
        assert HEBREW.search(shown), where
        assert set(LATIN_WORD.findall(shown)) <= ALLOWED_WORDS, f"{where}: {shown}"


def _inbound_text(wa_id: str, body: str, ts: int) -> bytes:
    """A webhook body with one text message from ``wa_id``, as Meta sends it."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "97233760000", "phone_number_id": "420000000000002"},
        "contacts": [{"profile": {"name": "Yael"}, "wa_id": wa_id}],
        "messages": [
            {"from": wa_id, "id": f"wamid.{ts}", "timestamp": str(ts), "type": "text",
             "text": {"body": body}}
        ],
    }  # fmt: skip
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "310000000000001", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(envelope).encode()


def _deliver(client: httpx.Client, raw: bytes) -> None:
    headers = {SIGNATURE_HEADER: sign(raw, APP_SECRET), "Content-Type": "application/json"}
    assert client.post(WEBHOOK_PATH, content=raw, headers=headers).status_code == 200


def _seed_rules(settings: Settings) -> list[str]:
    """The default automation rules; the words they carry (names, descriptions, texts)."""

    seed_default_rules(settings)
    words: list[str] = []
    for rule in automation.load_seed():
        words += [rule.name, rule.description]
        for action in rule.actions:
            texts = getattr(action, "text", None) or getattr(action, "otherwise_text", None)
            words += list((texts or {}).values())
    return [word for word in words if word]


def _once_shown(browser: httpx.Client, path: str, wanted: str) -> httpx.Response:
    """The page, once the webhook processor has applied what it should show."""
    deadline = time.monotonic() + 15
    while wanted not in (page := browser.get(path)).text:
        assert time.monotonic() < deadline, f"{wanted!r} never appeared on {path}"
        time.sleep(0.05)
    return page


def _lead(admin: httpx.Client, name: str, phone: str) -> str:
    answer = admin.post("/api/v1/leads", json={"name": name, "phone": phone})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _choose(browser: httpx.Client, language: Language) -> httpx.Response:
    token = csrf_of(browser.get("/account"))
    return browser.post("/account/language", data={"language": language.value, "csrf": token})


MESSAGE = "שלום, אני מחפשת דירת 4 חדרים"
LEAD_NAME = "יעל כהן"


@pytest.mark.parametrize("language", list(Language))
def test_every_page_is_wholly_in_the_chosen_language(
    language: Language,
    browser_client: httpx.Client,
    admin: httpx.Client,
    anonymous: httpx.Client,
    clean_db: Settings,
) -> None:
    make_user(clean_db, "boss@agency.co.il", Role.ADMIN)
    agent_id = make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    lead = _lead(admin, LEAD_NAME, "0501112233")
    erased = _lead(admin, "שמעון פרץ", "0501112234")
    assert admin.post("/api/v1/privacy/erase", json={"phone": "0501112234"}).status_code == 200
    _deliver(anonymous, _inbound_text("972501112233", MESSAGE, ts=1767000000))
    _deliver(anonymous, b'{"object": "whatsapp_business_account", "entry": 5}')
    browser = browser_client
    data = [LEAD_NAME, MESSAGE]

    browser.get(f"/login?lang={language.value}")
    _check(browser.get("/login"), language, data)
    wrong = sign_in(browser, "boss@agency.co.il", "not the password")
    assert wrong.status_code == 401
    _check(wrong, language, data)
    assert sign_in(browser, "boss@agency.co.il").status_code == 303
    assert _choose(browser, language).status_code == 303

    inbox = _once_shown(browser, "/", "29/12/2025 11:20")  # the message's time, Jerusalem
    _check(inbox, language, data)
    documents = document_checklist.items(clean_db.documents_he)  # the agency's list, to tick
    _check(_once_shown(browser, f"/leads/{lead}", MESSAGE), language, data + documents)
    _check(_once_shown(browser, "/admin/webhooks", "MalformedPayload"), language, data)
    rules = _seed_rules(clean_db)  # their names and descriptions are the agency's text
    pages = (
        "/admin/automation",
        "/admin/automation/greet_new_whatsapp_lead",
        "/admin/metrics",
        "/admin/reports/weekly",
    )
    workspace = ("/pipeline", "/meetings", "/properties", "/properties/new")
    for path in ("/account", "/admin/users", f"/admin/users/{agent_id}", *pages, *workspace):
        page = browser.get(path)
        assert page.status_code == 200, path
        _check(page, language, data + rules)
    token = csrf_of(browser.get("/account"))
    weak = {"email": "noa@agency.co.il", "password": "password123", "csrf": token}
    refused = browser.post("/admin/users", data=weak)
    assert refused.status_code == 422
    _check(refused, language, data)
    for path, status in (
        (f"/leads/{erased}", 410),
        ("/leads/01930000-0000-7000-8000-000000000000", 404),
        ("/no-such-page", 404),
    ):
        page = browser.get(path)
        assert page.status_code == status, path
        _check(page, language, data)


def test_the_login_page_speaks_the_cookies_language_before_sign_in(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    hebrew = browser_client.get("/login")
    assert '<html lang="he" dir="rtl">' in hebrew.text and "<h1>כניסה</h1>" in hebrew.text
    assert 'href="/login?lang=en"' in hebrew.text
    chosen = browser_client.get("/login?lang=en")
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert browser_client.cookies["ovenai_lang"] == "en"
    english = browser_client.get("/login")
    assert '<html lang="en" dir="ltr">' in english.text and "<h1>Sign in</h1>" in english.text
    assert 'href="/login?lang=he"' in english.text
    wrong = sign_in(browser_client, "rina@agency.co.il", "not the password")
    assert "The e-mail address or password is wrong." in wrong.text
    fields = {"email": "rina@agency.co.il", "password": PASSWORD}
    forged = browser_client.post("/login", data={**fields, "csrf": "forged"})
    assert forged.status_code == 403
    assert "The form&#39;s security token does not match; reload the page." in forged.text
    no_token = browser_client.post("/login", data=fields)
    assert no_token.status_code == 403
    assert "The form is missing its security token; reload the page." in no_token.text
    browser_client.get("/login?lang=xx")  # no such language: nothing changes
    assert browser_client.cookies["ovenai_lang"] == "en"
    for _ in range(signin.MAX_FAILURES_PER_EMAIL_AND_ADDRESS - 1):  # one failed above
        assert sign_in(browser_client, "rina@agency.co.il", "still wrong").status_code == 401
    throttled = sign_in(browser_client, "rina@agency.co.il", "still wrong")
    assert throttled.status_code == 429
    assert "Too many failed attempts; try again in 15 minutes." in throttled.text


def test_switching_the_language_on_the_account_page_changes_the_next_page_everywhere(
    browser_client: httpx.Client, server: Any, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    sign_in(browser_client, "rina@agency.co.il")
    assert "<h1>לידים</h1>" in browser_client.get("/").text
    chosen = _choose(browser_client, Language.EN)
    assert chosen.status_code == 303 and chosen.headers["location"] == "/account"
    account = browser_client.get("/account")
    assert "<h1>My account</h1>" in account.text
    assert '<option value="en" lang="en" selected>English</option>' in account.text
    assert "<h1>Leads</h1>" in browser_client.get("/").text
    # Another browser that chose Hebrew before signing in: once signed in, the user's wins.
    with httpx.Client(base_url=server.url, headers={"Accept": "text/html"}, timeout=10) as other:
        other.get("/login?lang=he")
        assert sign_in(other, "rina@agency.co.il").status_code == 303
        assert "<h1>Leads</h1>" in other.get("/").text
        assert other.cookies["ovenai_lang"] == "en"  # the sign-in page after it, too
        _choose(other, Language.HE)
    assert "<h1>לידים</h1>" in browser_client.get("/").text  # the column, not this cookie


def test_an_invalid_language_is_refused_with_a_page(
    browser_client: httpx.Client, clean_db: Settings
) -> None:
    make_user(clean_db, "rina@agency.co.il", Role.AGENT)
    sign_in(browser_client, "rina@agency.co.il")
    token = csrf_of(browser_client.get("/account"))
    refused = browser_client.post("/account/language", data={"language": "fr", "csrf": token})
    assert refused.status_code == 422 and "<h1>ערך לא תקין</h1>" in refused.text
    assert "<h1>לידים</h1>" in browser_client.get("/").text


def test_the_api_stays_english(admin: httpx.Client, anonymous: httpx.Client) -> None:
    anonymous.cookies.set("ovenai_lang", "he")
    missing = anonymous.get("/api/v1/nothing-here", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    assert missing.json()["message"] == "no such path; the routes are listed at /api/docs"
    body = {"email": "admin@example.co.il", "role": "agent", "password": "a long passphrase"}
    taken = admin.post("/api/v1/users", json=body, headers={"Accept-Language": "he"})
    assert taken.status_code == 409
    assert taken.json()["message"] == "a user with this e-mail address already exists"


# The column.


def test_0008_gives_every_user_hebrew_and_goes_back(blank_url: str) -> None:  # noqa: F811
    upgrade(blank_url, "0007")
    engine = create_engine(sync_url(blank_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, display_name, role, is_active, created_at,"
                " updated_at) VALUES ('u1', 'rina@agency.co.il', '', 'agent', true,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(blank_url, "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT language FROM users")).scalar_one() == "he"
    downgrade(blank_url, "0007")
    assert "language" not in {c["name"] for c in inspect(engine).get_columns("users")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM users")).scalar_one() == "rina@agency.co.il"
    engine.dispose()
