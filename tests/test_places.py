"""Which town a message names: the agency's own towns first, then the larger Israeli towns,
in any of their spellings, with Hebrew prefix letters, on whole words only."""

from __future__ import annotations

import pytest

from ovenai.places import TOWNS, find_town


def _he(text: str, listed: tuple[str, ...] = ()) -> str | None:
    town = find_town(text, listed)
    return town.he if town else None


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("ראיתי את הדירה בתל אביב", "תל אביב"),
        ("ראיתי את הדירה בתל-אביב", "תל אביב"),
        ("the flat in Tel-Aviv please", "תל אביב"),
        ("מחפשים בחיפה או ברמת גן", "חיפה"),  # the first named
        ("looking in ramat-gan, maybe haifa", "רמת גן"),
        ("ומחולון", "חולון"),
        ("שלום, מחפש 4 חדרים עם מרפסת", None),
        ("חיפהלה", None),  # a longer word is not the town
        ("", None),
    ],
)
def test_the_first_town_named_is_found(text: str, town: str | None) -> None:
    assert _he(text) == town


def test_the_agencys_own_towns_come_first_and_keep_their_spelling() -> None:
    listed = ("רמת אביב", "Neve Tzedek")
    assert _he("דירה ברמת אביב", listed) == "רמת אביב"
    assert _he("a loft in neve tzedek", listed) == "Neve Tzedek"
    assert _he("דירה ברמת אביב", ()) is None  # not one of the larger towns
    assert _he("בחיפה", listed) == "חיפה"


def test_every_spelling_of_every_town_finds_it_inside_a_sentence() -> None:
    for town in TOWNS:
        for spelling in (town.he, town.en, *town.spellings):
            found = find_town(
                f"ראיתי דירה ב{spelling} אתמול"
                if spelling[0] > "z"
                else f"I saw a flat in {spelling} yesterday"
            )
            assert found is not None and found.he == town.he, spelling
