"""The nesting-depth scan counts brackets outside strings only (its cost: bench/README.md)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovenai.ingest.receive.depth_guard import MAX_DEPTH, is_too_deep, nesting_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a":[1,{"b":[]}]}', 4),
        (b'"[[[{{{"', 0),
        (b'["\\\\",["\\"[[["]]', 2),
        (b'{"a\\"]":"}"}', 1),
    ],
)
def test_it_measures_depth_ignoring_brackets_in_strings(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


@given(JSON)
def test_it_agrees_with_the_real_depth_of_any_json(value: object) -> None:
    for raw in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert nesting_depth(raw.encode()) == _depth(value)


def test_it_allows_the_limit_and_refuses_one_more() -> None:
    assert not is_too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert is_too_deep(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_it_refuses_a_3_mb_hostile_body_and_measures_its_whole_depth() -> None:
    # How long the scan takes is measured in bench/ (bench/README.md, "Moved from unit tests").
    body = b"[" * 1_500_000 + b"]" * 1_500_000
    assert is_too_deep(body)
    assert nesting_depth(body) == 1_500_000
    assert not is_too_deep(b"[" * MAX_DEPTH + b'"' + b"[" * 1_500_000 + b'"' + b"]" * MAX_DEPTH)
