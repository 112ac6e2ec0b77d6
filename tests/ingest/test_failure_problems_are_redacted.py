"""A stored or logged problem keeps the parser's words and drops the values it quotes."""

from __future__ import annotations

from ovenai.ingest.failures import redacted


def test_a_quoted_value_is_dropped_from_the_problem() -> None:
    problem = "invalid literal for int() with base 10: '0501234567'"
    assert redacted(problem) == "invalid literal for int() with base 10: '…'"


def test_msgspec_paths_and_types_in_backticks_are_kept() -> None:
    problem = "Expected `int | null`, got `str` - at `$.entry[0].time`"
    assert redacted(problem) == problem


def test_double_quoted_values_with_escapes_are_dropped_whole() -> None:
    assert redacted('bad value "dana \\"levi\\"" here') == "bad value '…' here"
