"""Meta's template creation rules, checked before a template is submitted.

Meta refuses a new template (``POST /{waba}/message_templates``) that breaks one of these,
with code 100 and an ``error_subcode`` (docs/whatsapp-api-notes.md "Template creation
rules" lists each rule, its source and its subcode). :func:`check_template` finds every
broken rule at once, so ``ovenai templates submit|import`` can name them all before any
call, and the simulator refuses the same templates as Meta would.

A *violation* is blocking (Meta refuses the template); a *hint* is not (Meta would accept
it but may re-categorise it, e.g. a UTILITY template whose words read as marketing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ovenai.errors import InvalidInput

NAME_LIMIT = 512
BODY_LIMIT = 1024  # characters of the body text as submitted (Templates › Components)
HEADER_LIMIT = 60
FOOTER_LIMIT = 60
BUTTON_TEXT_LIMIT = 25
URL_LIMIT = 2000
PHONE_LIMIT = 20
MAX_BUTTONS = 10
MAX_URL_BUTTONS = 2
MAX_PHONE_BUTTONS = 1
CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
MEDIA_FORMATS = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
HEADER_FORMATS = MEDIA_FORMATS | {"TEXT", "LOCATION"}
BUTTON_TYPES = frozenset(
    {"QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW", "CATALOG", "MPM"}
)

# Meta's error_subcode per rule (code 100 "Invalid parameter"); None: code 100 alone.
SUBCODE_LENGTH = 2388040
SUBCODE_HEADER = 2388047
SUBCODE_BODY = 2388072
SUBCODE_FOOTER = 2388073
SUBCODE_RATIO = 2388293
SUBCODE_DANGLING = 2388299

_NAME = re.compile(r"[a-z0-9_]+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_NAMED = re.compile(r"[a-z][a-z0-9_]*")
_EDGE_NOISE = " \t\r\n.,;:!?¡¿()[]\"'`*_~-–—…״׳"
_WORD = re.compile(r"\w", re.UNICODE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")
_MARKUP = re.compile(r"[*_~`]")

# Words that make a UTILITY template read as marketing (Meta's category guidelines: a
# utility message is about a transaction the user started; offers, discounts and
# "more options" are marketing). Matched case-insensitively as substrings.
MARKETING_HINTS: dict[str, tuple[str, ...]] = {
    "en": (
        "sale",
        "discount",
        "% off",
        "special offer",
        "promo",
        "coupon",
        "deal",
        "limited time",
        "exclusive",
        "buy now",
        "free gift",
        "more options",
        "new listings",
        "don't miss",
    ),
    "he": (
        "מבצע",
        "הנחה",
        "הטבה",
        "קופון",
        "הזדמנות",
        "בלעדי",
        "לזמן מוגבל",
        "מחיר מיוחד",
        "חינם",
        "מתנה",
        "אל תפספס",
        "אפשרויות דומות",
        "נכסים חדשים",
    ),
}


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule: which, where, what to do; ``subcode`` is Meta's for it."""

    rule: str
    where: str
    message: str
    title: str
    subcode: int | None = None
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class TemplateRulesBroken(InvalidInput):
    """A template Meta would refuse on creation; names every broken rule."""

    def __init__(self, name: str, violations: Sequence[RuleViolation]) -> None:
        listed = "; ".join(str(v) for v in violations)
        super().__init__(
            f"template {name} breaks Meta's creation rules: {listed}",
            field=violations[0].where if violations else None,
        )
        self.name = name
        self.violations = list(violations)


def _components(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [c for c in value if isinstance(c, Mapping)]


def _of(components: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [c for c in components if str(c.get("type", "")).upper() == kind]


def placeholder_names(text: str) -> list[str]:
    """Every placeholder of a text, in order, repeats included."""
    return _PLACEHOLDER.findall(text)


def fixed_words(text: str) -> int:
    """Words of a text that are not placeholders (a token holding a letter or a digit)."""
    bare = _PLACEHOLDER.sub(" ", text)
    return sum(1 for token in bare.split() if _WORD.search(token))


def min_fixed_words(variables: int) -> int:
    """Fixed words a body needs for its variables: 2n + 1 (words + variables >= 3n + 1)."""
    return 2 * variables + 1 if variables else 0


def _v(
    rule: str, where: str, message: str, title: str, subcode: int | None = None
) -> RuleViolation:
    return RuleViolation(rule=rule, where=where, message=message, title=title, subcode=subcode)


def check_template(
    name: str,
    language: str,
    category: str,
    components: Any,
    *,
    parameter_format: str | None = None,
) -> list[RuleViolation]:
    """Every rule the template breaks (blocking) and every hint (``blocking=False``)."""
    found: list[RuleViolation] = []
    if not name or not _NAME.fullmatch(name) or len(name) > NAME_LIMIT:
        found.append(
            _v(
                "name",
                "name",
                f"must be lowercase letters, digits and underscores, 1 to {NAME_LIMIT} long",
                "Invalid template name",
            )
        )
    if not language:
        found.append(_v("language", "language", "a language code is required", "Missing language"))
    if str(category).upper() not in CATEGORIES:
        allowed = ", ".join(sorted(CATEGORIES))
        found.append(
            _v("category", "category", f"must be one of {allowed}", "Invalid template category")
        )
    parts = _components(components)
    bodies = _of(parts, "BODY")
    if not bodies or not str(bodies[0].get("text") or "").strip():
        found.append(
            _v("body", "body", "a BODY component with text is required", "Missing body", None)
        )
    else:
        found += _check_body(bodies[0], parameter_format)
    for header in _of(parts, "HEADER")[:1]:
        found += _check_header(header)
    for footer in _of(parts, "FOOTER")[:1]:
        found += _check_footer(footer)
    for buttons in _of(parts, "BUTTONS")[:1]:
        found += _check_buttons(buttons)
    if bodies and str(category).upper() == "UTILITY":
        found += _category_hints(language, parts)
    return found


def refusals(
    name: str, language: str, category: str, components: Any, *, parameter_format: str | None = None
) -> list[RuleViolation]:
    """The blocking violations only (what Meta refuses)."""
    every = check_template(name, language, category, components, parameter_format=parameter_format)
    return [v for v in every if v.blocking]


def hints(name: str, language: str, category: str, components: Any) -> list[RuleViolation]:
    """The non-blocking hints only."""
    return [v for v in check_template(name, language, category, components) if not v.blocking]


def require_valid(
    name: str, language: str, category: str, components: Any, *, parameter_format: str | None = None
) -> list[RuleViolation]:
    """Raise TemplateRulesBroken naming every broken rule; else return the hints."""
    every = check_template(name, language, category, components, parameter_format=parameter_format)
    blocking = [v for v in every if v.blocking]
    if blocking:
        raise TemplateRulesBroken(name, blocking)
    return every


def _stray_braces(text: str) -> bool:
    bare = _PLACEHOLDER.sub("", text)
    return "{{" in bare or "}}" in bare


def _variables_problems(
    where: str, names: list[str], text: str, parameter_format: str | None, subcode: int
) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    if _stray_braces(text):
        found.append(
            _v(
                "variable_format",
                where,
                "a variable is malformed: write {{1}} (or {{name}}), braces matched, no # $ %",
                "Invalid variable format",
                subcode,
            )
        )
    if not names:
        return found
    positional = all(n.isdigit() for n in names)
    named = all(_NAMED.fullmatch(n) for n in names)
    if not positional and not named:
        found.append(
            _v(
                "variable_format",
                where,
                "variables must be all numbers ({{1}}) or all lowercase names ({{first_name}})",
                "Invalid variable format",
                subcode,
            )
        )
        return found
    if parameter_format and positional != (parameter_format.upper() == "POSITIONAL"):
        found.append(
            _v(
                "variable_format",
                where,
                f"variables do not match parameter_format {parameter_format.upper()}",
                "Invalid variable format",
                subcode,
            )
        )
    if positional:
        numbers = sorted({int(n) for n in names})
        if numbers != list(range(1, len(numbers) + 1)):
            shown = ", ".join("{{" + str(n) + "}}" for n in numbers)
            found.append(
                _v(
                    "sequence",
                    where,
                    f"variables must be numbered {{{{1}}}} to {{{{{len(numbers)}}}}} "
                    f"without gaps (found {shown})",
                    "Variables not sequential",
                    subcode,
                )
            )
    return found


def _check_body(body: Mapping[str, Any], parameter_format: str | None) -> list[RuleViolation]:
    text = str(body.get("text") or "")
    found: list[RuleViolation] = []
    if len(text) > BODY_LIMIT:
        found.append(
            _v(
                "length",
                "body",
                f"is {len(text)} characters; Meta allows {BODY_LIMIT}",
                "Character limit exceeded",
                SUBCODE_LENGTH,
            )
        )
    names = placeholder_names(text)
    found += _variables_problems("body", names, text, parameter_format, SUBCODE_BODY)
    if not names:
        return found
    trimmed = text.strip(_EDGE_NOISE)
    if trimmed.startswith("{{") or trimmed.endswith("}}"):
        edge = "starts" if trimmed.startswith("{{") else "ends"
        found.append(
            _v(
                "dangling",
                "body",
                f"{edge} with a variable: add fixed text before the first and after the last",
                "Leading or trailing params not allowed",
                SUBCODE_DANGLING,
            )
        )
    if re.search(r"\}\}\s*\{\{", text):
        found.append(
            _v(
                "adjacent",
                "body",
                "has two variables side by side: put words between them",
                "Adjacent params not allowed",
                SUBCODE_BODY,
            )
        )
    distinct = len(set(names))
    words = fixed_words(text)
    if words < min_fixed_words(distinct):
        found.append(
            _v(
                "density",
                "body",
                f"has {distinct} variables and {words} fixed words; Meta wants at least "
                f"{min_fixed_words(distinct)} (2 per variable + 1)",
                "Parameters words ratio exceeds limit",
                SUBCODE_RATIO,
            )
        )
    found += _check_examples("body", body, names)
    return found


def _check_examples(where: str, part: Mapping[str, Any], names: list[str]) -> list[RuleViolation]:
    """Meta wants an example value for every variable (``example.body_text`` etc.)."""
    distinct = list(dict.fromkeys(names))
    example = part.get("example")
    example = example if isinstance(example, Mapping) else {}
    positional = all(n.isdigit() for n in distinct)
    if positional:
        key = "body_text" if where == "body" else "header_text"
        given = example.get(key)
        values: list[Any]
        if where == "body":
            values = list(given[0]) if isinstance(given, list) and given else []
            if values and isinstance(values[0], list):
                values = []
        else:
            values = list(given) if isinstance(given, list) else []
        good = len(values) == len(distinct) and all(
            isinstance(v, str) and v.strip() for v in values
        )
        shape = (
            f'"example": {{"{key}": [[...{len(distinct)} values]]}}'
            if where == "body"
            else f'"example": {{"{key}": [...{len(distinct)} value]}}'
        )
    else:
        key = f"{'body' if where == 'body' else 'header'}_text_named_params"
        given = example.get(key)
        items = given if isinstance(given, list) else []
        filled = {
            str(i.get("param_name")): i.get("example") for i in items if isinstance(i, Mapping)
        }
        good = all(isinstance(filled.get(n), str) and str(filled[n]).strip() for n in distinct)
        shape = f'"example": {{"{key}": [{{"param_name", "example"}} per variable]}}'
    if good:
        return []
    return [
        _v(
            "examples",
            where,
            f"needs a non-empty example value for each of its {len(distinct)} variables ({shape})",
            "Missing example values",
            None,
        )
    ]


def _check_header(header: Mapping[str, Any]) -> list[RuleViolation]:
    fmt = str(header.get("format") or "TEXT").upper()
    found: list[RuleViolation] = []
    if fmt not in HEADER_FORMATS:
        allowed = ", ".join(sorted(HEADER_FORMATS))
        return [
            _v(
                "header",
                "header",
                f"format must be one of {allowed}",
                "Invalid header",
                SUBCODE_HEADER,
            )
        ]
    if fmt in MEDIA_FORMATS:
        example = header.get("example")
        handle = example.get("header_handle") if isinstance(example, Mapping) else None
        if not (isinstance(handle, list) and handle):
            found.append(
                _v(
                    "examples",
                    "header",
                    f'a {fmt} header needs a sample: "example": {{"header_handle": [...]}}',
                    "Missing example values",
                    SUBCODE_HEADER,
                )
            )
        return found
    if fmt == "LOCATION":
        return found
    text = str(header.get("text") or "")
    if not text.strip():
        return [
            _v("header", "header", "a TEXT header needs text", "Invalid header", SUBCODE_HEADER)
        ]
    if len(text) > HEADER_LIMIT:
        found.append(
            _v(
                "length",
                "header",
                f"is {len(text)} characters; Meta allows {HEADER_LIMIT}",
                "Character limit exceeded",
                SUBCODE_LENGTH,
            )
        )
    if "\n" in text or _EMOJI.search(text) or _MARKUP.search(_PLACEHOLDER.sub("", text)):
        found.append(
            _v(
                "header",
                "header",
                "a text header may not hold newlines, emojis or formatting (* _ ~ `)",
                "Invalid header",
                SUBCODE_HEADER,
            )
        )
    names = placeholder_names(text)
    if len(names) > 1:
        found.append(
            _v(
                "header",
                "header",
                f"has {len(names)} variables; a header may have at most one",
                "Invalid header",
                SUBCODE_HEADER,
            )
        )
    found += _variables_problems("header", names, text, None, SUBCODE_HEADER)
    if names:
        found += _check_examples("header", header, names[:1])
    return found


def _check_footer(footer: Mapping[str, Any]) -> list[RuleViolation]:
    text = str(footer.get("text") or "")
    found: list[RuleViolation] = []
    if len(text) > FOOTER_LIMIT:
        found.append(
            _v(
                "length",
                "footer",
                f"is {len(text)} characters; Meta allows {FOOTER_LIMIT}",
                "Character limit exceeded",
                SUBCODE_LENGTH,
            )
        )
    if "{{" in text or "}}" in text:
        found.append(
            _v("footer", "footer", "may not hold variables", "Invalid footer", SUBCODE_FOOTER)
        )
    if "\n" in text or _EMOJI.search(text):
        found.append(
            _v(
                "footer",
                "footer",
                "may not hold newlines or emojis",
                "Invalid footer",
                SUBCODE_FOOTER,
            )
        )
    return found


def _check_buttons(part: Mapping[str, Any]) -> list[RuleViolation]:
    buttons = [b for b in part.get("buttons") or () if isinstance(b, Mapping)]
    found: list[RuleViolation] = []
    if not buttons:
        return [_v("buttons", "buttons", "a BUTTONS component needs buttons", "Invalid buttons")]
    if len(buttons) > MAX_BUTTONS:
        found.append(_v("buttons", "buttons", f"at most {MAX_BUTTONS} buttons", "Too many buttons"))
    kinds = [str(b.get("type", "")).upper() for b in buttons]
    if kinds.count("URL") > MAX_URL_BUTTONS:
        found.append(
            _v("buttons", "buttons", f"at most {MAX_URL_BUTTONS} URL buttons", "Too many buttons")
        )
    if kinds.count("PHONE_NUMBER") > MAX_PHONE_BUTTONS:
        found.append(
            _v("buttons", "buttons", "at most one phone number button", "Too many buttons")
        )
    for index, (kind, button) in enumerate(zip(kinds, buttons, strict=True)):
        where = f"buttons[{index}]"
        if kind not in BUTTON_TYPES:
            found.append(_v("buttons", where, f"unknown button type {kind!r}", "Invalid buttons"))
            continue
        text = str(button.get("text") or "")
        if kind in {"QUICK_REPLY", "URL", "PHONE_NUMBER"} and not text.strip():
            found.append(_v("buttons", where, "needs a text", "Invalid buttons"))
        if len(text) > BUTTON_TEXT_LIMIT:
            found.append(
                _v(
                    "length",
                    where,
                    f"text is {len(text)} characters; Meta allows {BUTTON_TEXT_LIMIT}",
                    "Character limit exceeded",
                    SUBCODE_LENGTH,
                )
            )
        if kind == "URL":
            found += _check_url_button(where, button)
        if kind == "PHONE_NUMBER":
            phone = str(button.get("phone_number") or "")
            if not phone or len(phone) > PHONE_LIMIT:
                found.append(
                    _v(
                        "buttons",
                        where,
                        f"needs a phone_number of at most {PHONE_LIMIT} characters",
                        "Invalid buttons",
                    )
                )
    return found


def _check_url_button(where: str, button: Mapping[str, Any]) -> list[RuleViolation]:
    url = str(button.get("url") or "")
    found: list[RuleViolation] = []
    if not url.startswith(("https://", "http://")) or len(url) > URL_LIMIT:
        found.append(
            _v(
                "buttons",
                where,
                f"needs an http(s) url of at most {URL_LIMIT} characters",
                "Invalid buttons",
            )
        )
    names = placeholder_names(url)
    if names:
        if len(names) > 1 or not url.rstrip().endswith("}}"):
            found.append(
                _v(
                    "buttons",
                    where,
                    "a URL may hold one variable, at its end",
                    "Invalid buttons",
                )
            )
        example = button.get("example")
        if not (isinstance(example, list) and example and all(isinstance(e, str) for e in example)):
            found.append(
                _v(
                    "examples",
                    where,
                    'a URL with a variable needs "example": ["full example URL"]',
                    "Missing example values",
                )
            )
    return found


def _category_hints(language: str, parts: Sequence[Mapping[str, Any]]) -> list[RuleViolation]:
    texts = " ".join(str(p.get("text") or "") for p in parts).lower()
    words = MARKETING_HINTS.get(language.split("_")[0].lower(), ()) + MARKETING_HINTS["en"]
    matched = sorted({w for w in words if _hint_pattern(w).search(texts)})
    if not matched:
        return []
    shown = ", ".join(repr(w) for w in matched)
    return [
        RuleViolation(
            rule="category",
            where="category",
            message=f"UTILITY, but {shown} reads as marketing: Meta may re-categorise it "
            "as MARKETING (stricter limits, opt-in needed)",
            title="Category may change",
            blocking=False,
        )
    ]


def _hint_pattern(word: str) -> re.Pattern[str]:
    """A whole word, after up to two of Hebrew's one-letter prefixes (ו ה ב ל מ כ ש)."""
    return re.compile(r"(?<!\w)[והבלמכש]{0,2}" + re.escape(word) + r"(?!\w)")
