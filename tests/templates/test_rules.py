"""Meta's template creation rules, checked offline (ovenai.templates.rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ovenai import templates
from ovenai.templates import rules

DRAFTS = Path(templates.__file__).parent.parent / "data" / "english_drafts.json"


def body(text: str, *examples: str) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "BODY", "text": text}
    if examples:
        part["example"] = {"body_text": [list(examples)]}
    return part


def broken(components: list[dict[str, Any]], **given: str) -> dict[str, rules.RuleViolation]:
    name = given.get("name", "visit_confirmed_en")
    category = given.get("category", "UTILITY")
    found = rules.refusals(name, given.get("language", "en"), category, components)
    return {v.rule: v for v in found}


GOOD = body("Hello {{1}}, your viewing in {{2}} is confirmed. See you there!", "Dana", "Haifa")


def test_a_good_template_breaks_no_rule() -> None:
    assert rules.check_template("visit_confirmed_en", "en", "UTILITY", [GOOD]) == []


@pytest.mark.parametrize("name", ["Visit", "visit-confirmed", "visit confirmed", "", "a" * 513])
def test_the_name_is_lowercase_digits_underscores_at_most_512(name: str) -> None:
    assert "name" in broken([GOOD], name=name)


def test_a_512_character_name_is_fine() -> None:
    assert broken([GOOD], name="a" * 512) == {}


def test_the_category_must_be_known() -> None:
    assert "category" in broken([GOOD], category="PROMOTION")


def test_a_body_is_required() -> None:
    assert "body" in broken([{"type": "FOOTER", "text": "OvenAI"}])


def test_the_body_is_at_most_1024_characters() -> None:
    text = "Hello {{1}}, " + "a long line of text " * 60 + "thanks."
    assert broken([body(text, "Dana")])["length"].subcode == rules.SUBCODE_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "{{1}}, your viewing is confirmed. See you!",
        "Your viewing is confirmed, {{1}}.",
        "  {{1}} your viewing is confirmed and we will see you soon",
    ],
)
def test_no_variable_at_the_start_or_end_of_the_body(text: str) -> None:
    violation = broken([body(text, "Dana")])["dangling"]
    assert violation.subcode == rules.SUBCODE_DANGLING == 2388299


def test_variables_are_numbered_1_to_n() -> None:
    text = "Hello {{1}}, your viewing in {{3}} is confirmed. See you there!"
    found = broken([body(text, "Dana", "Haifa")])
    assert "sequence" in found and "{{1}}, {{3}}" in found["sequence"].message


def test_no_two_variables_side_by_side() -> None:
    text = "Hello {{1}} {{2}}, your viewing is confirmed and we will see you there soon."
    assert "adjacent" in broken([body(text, "Dana", "Levi")])


def test_too_many_variables_for_the_words() -> None:
    text = "Hi {{1}}, {{2}} at {{3}} in {{4}}, ok?"
    found = broken([body(text, "Dana", "Tuesday", "10:00", "Haifa")])
    assert found["density"].subcode == rules.SUBCODE_RATIO
    assert "at least 9" in found["density"].message


def test_the_density_rule_counts_fixed_words() -> None:
    assert rules.fixed_words("שלום {{1}}, הנכס ב{{2}} מחכה לך.") == 5
    assert rules.min_fixed_words(2) == 5
    assert rules.min_fixed_words(0) == 0


@pytest.mark.parametrize(
    "example",
    [
        None,
        {"body_text": [["Dana"]]},
        {"body_text": [["Dana", " "]]},
        {"body_text": ["Dana", "Haifa"]},
    ],
)
def test_every_body_variable_needs_an_example(example: dict[str, Any] | None) -> None:
    part = body("Hello {{1}}, your viewing in {{2}} is confirmed. See you there!")
    if example is not None:
        part["example"] = example
    assert "examples" in broken([part])


def test_named_variables_need_named_examples() -> None:
    part: dict[str, Any] = {
        "type": "BODY",
        "text": "Hello {{first_name}}, your viewing in {{city}} is confirmed. See you there!",
        "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Dana"}]},
    }
    assert "examples" in broken([part])
    part["example"]["body_text_named_params"].append({"param_name": "city", "example": "Haifa"})
    assert broken([part]) == {}


def test_mixed_variables_are_refused() -> None:
    text = "Hello {{1}}, your viewing in {{city}} is confirmed. See you there!"
    assert "variable_format" in broken([body(text, "Dana", "Haifa")])


def test_a_malformed_variable_is_refused() -> None:
    assert "variable_format" in broken([body("Hello {{1}, your viewing is confirmed today.")])
    assert "variable_format" in broken([body("Hello {{#1}}, your viewing is confirmed today.")])


def test_header_rules() -> None:
    long = {"type": "HEADER", "format": "TEXT", "text": "x" * 61}
    assert "length" in broken([long, GOOD])
    two = {"type": "HEADER", "format": "TEXT", "text": "{{1}} in {{2}}"}
    assert "header" in broken([two, GOOD])
    no_example: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": "Viewing in {{1}}"}
    assert broken([no_example, GOOD])["examples"].where == "header"
    no_example["example"] = {"header_text": ["Haifa"]}
    assert broken([no_example, GOOD]) == {}
    emoji = {"type": "HEADER", "format": "TEXT", "text": "Viewing 🏠"}
    assert "header" in broken([emoji, GOOD])
    image = {"type": "HEADER", "format": "IMAGE"}
    assert broken([image, GOOD])["examples"].subcode == rules.SUBCODE_HEADER


def test_footer_rules() -> None:
    assert "length" in broken([GOOD, {"type": "FOOTER", "text": "x" * 61}])
    found = broken([GOOD, {"type": "FOOTER", "text": "Agent {{1}}"}])
    assert found["footer"].subcode == rules.SUBCODE_FOOTER
    assert "footer" in broken([GOOD, {"type": "FOOTER", "text": "OvenAI 🏠"}])
    assert broken([GOOD, {"type": "FOOTER", "text": "OvenAI real estate"}]) == {}


def test_button_rules() -> None:
    def buttons(*items: dict[str, Any]) -> dict[str, Any]:
        return {"type": "BUTTONS", "buttons": list(items)}

    reply = {"type": "QUICK_REPLY", "text": "Yes"}
    assert broken([GOOD, buttons(reply)]) == {}
    assert "buttons" in broken([GOOD, buttons(*[reply] * 11)])
    assert "length" in broken([GOOD, buttons({"type": "QUICK_REPLY", "text": "x" * 26})])
    url = {"type": "URL", "text": "Open", "url": "https://example.com/{{1}}"}
    assert "examples" in broken([GOOD, buttons(url)])
    assert broken([GOOD, buttons(url | {"example": ["https://example.com/a"]})]) == {}
    middle = {"type": "URL", "text": "Open", "url": "https://example.com/{{1}}/x", "example": ["x"]}
    assert "buttons" in broken([GOOD, buttons(middle)])
    assert "buttons" in broken([GOOD, buttons(*[url | {"example": ["e"]}] * 3)])


def test_marketing_words_in_a_utility_template_are_a_hint_not_a_refusal() -> None:
    offer = body("Hello {{1}}, a special offer: 10% off in {{2}} this week only!", "Dana", "Haifa")
    assert broken([offer]) == {}
    hints = rules.hints("offer_en", "en", "UTILITY", [offer])
    assert [h.rule for h in hints] == ["category"] and "special offer" in hints[0].message
    hebrew = body("שלום {{1}}, יש לנו מבצע בלעדי על דירות ב{{2}} השבוע!", "דנה", "חיפה")
    assert "מבצע" in rules.hints("offer_he", "he", "UTILITY", [hebrew])[0].message
    assert rules.hints("offer_he", "he", "MARKETING", [hebrew]) == []


def test_require_valid_names_every_broken_rule() -> None:
    with pytest.raises(rules.TemplateRulesBroken) as caught:
        rules.require_valid("Bad Name", "en", "UTILITY", [body("{{1}} {{2}}")])
    assert {v.rule for v in caught.value.violations} >= {"name", "dangling", "adjacent", "examples"}
    assert caught.value.http_status == 422 and "dangling" not in caught.value.message


def test_every_seed_template_and_shipped_draft_passes_with_examples() -> None:
    shipped = [
        *templates.seed_definitions(),
        *templates.read_export(DRAFTS),
        *templates.read_export(DRAFTS.with_name("viewing_proposal.json")),
    ]
    assert len(shipped) == 12
    for definition in shipped:
        found = rules.check_template(
            definition.name, definition.language, definition.category, definition.components
        )
        assert found == [], (definition.name, found)
        body_part = next(c for c in definition.components if c["type"] == "BODY")
        assert body_part["example"]["body_text"][0]


@pytest.mark.parametrize(
    "text",
    [
        "{{1}}, מה דעתך על הנכס שראית ב{{2}}? יש לנו עוד אפשרויות דומות באזור.",
        "{{1}}, כדי להמשיך בתהליך נצטרך את המסמכים הבאים: {{2}}. אפשר לשלוח בווטסאפ?",
    ],
)
def test_the_old_seed_texts_would_have_been_refused(text: str) -> None:
    assert "dangling" in broken([body(text, "דנה", "חיפה")], language="he")


def test_the_corrected_seed_keeps_the_parameter_order() -> None:
    seeds = {d.name: d for d in templates.seed_definitions()}
    for name in ("followup_interest_he", "document_request_he"):
        assert templates.placeholders(seeds[name].components) == ["1", "2"]
        assert templates.render(seeds[name].components, ["דנה", "X"]).startswith("שלום דנה, ")
