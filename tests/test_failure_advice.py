"""The advice for Meta's failure codes: each common code's kind, reason and next step, every
132xxx a template problem, an unknown code told by its code and title; and the dashboard
says every kind in Hebrew and English with the same English sentences as the domain."""

from __future__ import annotations

import re

import pytest

from ovenai.failure_advice import SENTENCES, AdviceKind, advise, kind_of
from ovenai.models import Language
from ovenai.web import i18n
from ovenai.web.dashboard.lead_view import ADVICE

HEBREW = re.compile(r"[\u0590-\u05ff]")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (131047, AdviceKind.WINDOW_CLOSED),
        (131026, AdviceKind.UNDELIVERABLE),
        (131050, AdviceKind.STOPPED_MARKETING),
        (131049, AdviceKind.ECOSYSTEM_LIMIT),
        (130429, AdviceKind.RATE_LIMITED),
        (131056, AdviceKind.RATE_LIMITED),
        (132000, AdviceKind.TEMPLATE_PROBLEM),
        (132001, AdviceKind.TEMPLATE_PROBLEM),
        (132018, AdviceKind.TEMPLATE_PROBLEM),
        (132999, AdviceKind.TEMPLATE_PROBLEM),
        (133000, AdviceKind.UNKNOWN),
        (131000, AdviceKind.UNKNOWN),
        (None, AdviceKind.UNKNOWN),
    ],
)
def test_each_common_code_has_its_kind(code: int | None, kind: AdviceKind) -> None:
    assert kind_of(code) is kind


def test_advice_says_the_reason_and_what_to_do() -> None:
    closed = advise(131047, "Re-engagement message")
    assert (closed.kind, closed.code, closed.title) == (
        AdviceKind.WINDOW_CLOSED,
        131047,
        "Re-engagement message",
    )
    assert closed.reason and "24 hours" in closed.reason
    assert closed.action and "template" in closed.action
    unreachable = advise(131026, "Message undeliverable")
    assert unreachable.action and "phone number" in unreachable.action
    assert advise(131056).action == SENTENCES[AdviceKind.RATE_LIMITED][1]


def test_an_unknown_code_is_told_by_its_code_and_title_only() -> None:
    unknown = advise(131000, "Something went wrong")
    assert unknown.kind is AdviceKind.UNKNOWN
    assert (unknown.code, unknown.title) == (131000, "Something went wrong")
    assert unknown.reason is None and unknown.action is None


def test_every_kind_is_said_in_both_languages_with_the_domains_english() -> None:
    hebrew, english = i18n.TRANSLATORS[Language.HE], i18n.TRANSLATORS[Language.EN]
    known = set(AdviceKind) - {AdviceKind.UNKNOWN}
    assert set(SENTENCES) == known and set(ADVICE) == known
    for kind, (reason, action) in ADVICE.items():
        assert (english.gettext(reason), english.gettext(action)) == SENTENCES[kind]
        assert HEBREW.search(hebrew.gettext(reason)) and HEBREW.search(hebrew.gettext(action))
        assert not re.search(r"[A-Za-z]", hebrew.gettext(reason) + hebrew.gettext(action))
