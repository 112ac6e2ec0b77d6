"""Every enum of Meta's values tolerates values Meta adds later."""

from __future__ import annotations

import pytest

from ovenai.events.enums import (
    DeliveryStatus,
    InteractiveReplyType,
    MarketingPreference,
    MessageType,
    MetaEnum,
    QualityScore,
    SystemChangeType,
    TemplateEvent,
)

ENUMS: list[type[MetaEnum]] = [
    DeliveryStatus,
    InteractiveReplyType,
    MarketingPreference,
    MessageType,
    QualityScore,
    SystemChangeType,
    TemplateEvent,
]


@pytest.mark.parametrize("enum", ENUMS)
def test_it_maps_a_new_value_to_unknown(enum: type[MetaEnum]) -> None:
    assert enum.parse("SOMETHING_META_ADDED_IN_2027").name == "UNKNOWN"
    assert enum.parse(None).name == "UNKNOWN"


@pytest.mark.parametrize("enum", ENUMS)
def test_it_maps_every_known_value_to_its_member(enum: type[MetaEnum]) -> None:
    for member in enum:
        assert enum.parse(member.value) is member


def test_it_tells_a_template_event_by_metas_upper_case_spelling() -> None:
    assert TemplateEvent.parse("PENDING_DELETION") is TemplateEvent.PENDING_DELETION
    assert TemplateEvent.parse("approved") is TemplateEvent.UNKNOWN
