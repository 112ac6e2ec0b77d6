"""Every send is checked against the registry and Meta's parameter rules before any call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ovenai import templates
from ovenai.db import Database
from ovenai.errors import OvenAIError
from ovenai.models import MessageTemplate

pytestmark = pytest.mark.anyio
TEST_WABA = "310000000000001"
AddTemplate = Callable[..., Awaitable[MessageTemplate]]


async def _send(
    db: Database,
    template: str,
    params: list[str] | dict[str, str],
    *,
    language: str = "he",
    header_params: list[str] | None = None,
) -> templates.PreparedTemplate:
    async with db.session() as session:
        return await templates.prepare_send(
            session,
            waba_id=TEST_WABA,
            template=template,
            language=language,
            params=params,
            header_params=header_params,
        )


async def _refused(db: Database, template: str, params: list[str] | dict[str, str]) -> OvenAIError:
    with pytest.raises(OvenAIError) as caught:
        await _send(db, template, params)
    return caught.value


async def test_an_unknown_name_is_a_422_naming_it(seeded: Database) -> None:
    error = await _refused(seeded, "welcom_new_lead", ["דנה", "חיפה"])
    assert isinstance(error, templates.TemplateNotFound)
    assert error.http_status == 422
    assert error.to_dict()["message"] == "template welcom_new_lead does not exist"
    assert error.to_dict()["field"] == "template"


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "PAUSED", "DISABLED"])
async def test_a_template_not_approved_is_a_409_naming_it_and_its_status(
    db: Database, add_template: AddTemplate, status: str
) -> None:
    await add_template(name="visit_confirmed_he", status=status)
    error = await _refused(db, "visit_confirmed", ["דנה"])
    assert isinstance(error, templates.TemplateNotApproved)
    assert error.http_status == 409
    assert error.message == f"template visit_confirmed_he (he) is {status}, not APPROVED"


async def test_a_bare_string_is_not_a_list_of_values(seeded: Database) -> None:
    error = await _refused(seeded, "welcome_new_lead", "דנה")  # type: ignore[arg-type]
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.problem == "must be a list of values"


@pytest.mark.parametrize("params", [["דנה"], ["דנה", "חיפה", "עוד"], []])
async def test_a_parameter_count_mismatch_is_a_422(seeded: Database, params: list[str]) -> None:
    error = await _refused(seeded, "welcome_new_lead", params)
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.http_status == 422
    assert error.message == (
        f"template welcome_new_lead_he, parameter params: "
        f"the template has 2 placeholders, {len(params)} values given"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("חיפה\nמערב", "contains a newline"),
        ("חיפה\r\nמערב", "contains a newline"),
        ("חיפה\tמערב", "contains a tab"),
        ("חיפה     מערב", "contains more than 4 consecutive spaces"),
        ("   ", "is empty"),
        ("א" * 1025, "is longer than 1024 characters"),
    ],
    ids=["newline", "carriage-return", "tab", "five-spaces", "blank", "too-long"],
)
async def test_a_bad_value_is_a_422_naming_template_and_parameter(
    seeded: Database, value: str, problem: str
) -> None:
    error = await _refused(seeded, "welcome_new_lead", ["דנה", value])
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.http_status == 422
    assert (error.template, error.parameter, error.problem) == (
        "welcome_new_lead_he",
        "{{2}}",
        problem,
    )
    assert error.message == f"template welcome_new_lead_he, parameter {{{{2}}}}: {problem}"
    assert error.field == "params.2"


async def test_four_consecutive_spaces_are_still_allowed(seeded: Database) -> None:
    prepared = await _send(seeded, "welcome_new_lead", ["דנה", "חיפה    מערב"])
    assert prepared.body_params == ["דנה", "חיפה    מערב"]


async def test_values_that_make_the_body_too_long_name_the_longest(seeded: Database) -> None:
    error = await _refused(seeded, "welcome_new_lead", ["א" * 600, "ב" * 400])
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.parameter == "{{1}}"
    assert error.problem == "makes the text longer than 1024 characters"


async def test_a_text_header_parameter_is_checked_against_the_header_limit(
    db: Database, add_template: AddTemplate
) -> None:
    components = [
        {"type": "HEADER", "format": "TEXT", "text": "נכס ב{{1}}"},
        {"type": "BODY", "text": "שלום {{1}}"},
    ]
    await add_template(name="listing_he", components=components)
    error = await _refused_with_header(db, "listing", ["דנה"], ["ח" * 61])
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert (error.parameter, error.field) == ("{{1}}", "header_params.1")
    prepared = await _send(db, "listing", ["דנה"], header_params=["חיפה"])
    assert prepared.header_params == ["חיפה"]
    assert prepared.rendered == "נכס בחיפה\nשלום דנה"


async def _refused_with_header(
    db: Database, template: str, params: list[str], header: list[str]
) -> OvenAIError:
    with pytest.raises(OvenAIError) as caught:
        await _send(db, template, params, header_params=header)
    return caught.value


async def test_named_parameters_are_checked_by_name(
    db: Database, add_template: AddTemplate
) -> None:
    components = [{"type": "BODY", "text": "שלום {{first_name}}, נתראה ב{{visit_time}}."}]
    await add_template(name="visit_named_he", components=components, parameter_format="NAMED")
    prepared = await _send(db, "visit_named", {"visit_time": "10:00", "first_name": "דנה"})
    assert prepared.body_params == {"first_name": "דנה", "visit_time": "10:00"}
    assert prepared.rendered == "שלום דנה, נתראה ב10:00."
    from_list = await _send(db, "visit_named", ["דנה", "10:00"])
    assert from_list.body_params == {"first_name": "דנה", "visit_time": "10:00"}
    error = await _refused(db, "visit_named", {"first_name": "דנה", "visit_day": "שני"})
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.parameter == "{{visit_day}}" and error.problem == "is not in the template"


async def test_a_video_header_is_refused_before_any_call(
    db: Database, add_template: AddTemplate
) -> None:
    components = [{"type": "HEADER", "format": "VIDEO"}, {"type": "BODY", "text": "שלום {{1}}"}]
    await add_template(name="tour_he", components=components)
    error = await _refused(db, "tour", ["דנה"])
    assert isinstance(error, templates.InvalidTemplateParameter)
    assert error.parameter == "header" and "video" in error.problem


@pytest.mark.parametrize(("fmt", "kind"), [("IMAGE", "image"), ("DOCUMENT", "document")])
async def test_an_image_or_document_header_says_which_file_it_wants(
    db: Database, add_template: AddTemplate, fmt: str, kind: str
) -> None:
    components = [{"type": "HEADER", "format": fmt}, {"type": "BODY", "text": "שלום {{1}}"}]
    await add_template(name="listing_he", components=components)
    prepared = await _send(db, "listing", ["דנה"])
    assert prepared.header_media == kind and prepared.header_params == []
    assert prepared.header_file is None  # chosen by the queue (a listing's file)


async def test_a_prepared_send_carries_what_the_client_needs(seeded: Database) -> None:
    prepared = await _send(seeded, "property_details", ["דנה", "חיפה", "4", "120", "₪2,450,000"])
    assert prepared == templates.PreparedTemplate(
        name="property_details_he",
        language="he",
        category="MARKETING",
        body_params=["דנה", "חיפה", "4", "120", "₪2,450,000"],
        header_params=[],
        rendered="היי דנה, יש לנו נכס מעולה בחיפה - 4 חדרים, 120 מ״ר. מחיר: ₪2,450,000. "
        "מעוניין/ת לקבוע צפייה?",
    )
