"""Rendering gives the exact text the lead sees (previews and the conversation view)."""

from __future__ import annotations

from ovenai import templates


def _seed(name: str) -> list[dict[str, object]]:
    (found,) = [d for d in templates.seed_definitions() if d.name == name]
    return found.components


def test_the_seed_hebrew_welcome_renders_exactly() -> None:
    text = templates.render(_seed("welcome_new_lead_he"), ["דנה כהן", "חיפה"])
    assert text == "שלום דנה כהן, תודה על פנייתך לגבי הנכס בחיפה. נחזור אליך בהקדם עם פרטים נוספים."


def test_the_seed_english_reminder_renders_exactly() -> None:
    text = templates.render(_seed("meeting_reminder_en"), ["Dana", "10:30"])
    assert text == (
        "Reminder for Dana - we have a meeting tomorrow at 10:30 for the property viewing. "
        "Is the time still convenient?"
    )


def test_placeholders_are_listed_in_order() -> None:
    assert templates.placeholders(_seed("property_details_he")) == ["1", "2", "3", "4", "5"]
    named = [{"type": "BODY", "text": "{{first_name}} ב{{ visit_time }} ו{{first_name}}"}]
    assert templates.placeholders(named) == ["first_name", "visit_time"]


def test_header_body_and_footer_are_one_per_line() -> None:
    components = [
        {"type": "HEADER", "format": "TEXT", "text": "דירה ב{{1}}"},
        {"type": "BODY", "text": "שלום {{1}}, יש דירה חדשה."},
        {"type": "FOOTER", "text": "OvenAI נדל״ן"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "מעוניין"}]},
    ]
    text = templates.render(components, ["דנה"], ["חיפה"])
    assert text == "דירה בחיפה\nשלום דנה, יש דירה חדשה.\nOvenAI נדל״ן"


def test_named_values_fill_by_name() -> None:
    components = [{"type": "BODY", "text": "שלום {{first_name}}, נתראה ב{{visit_time}}"}]
    text = templates.render(components, {"visit_time": "10:00", "first_name": "דנה"})
    assert text == "שלום דנה, נתראה ב10:00"
