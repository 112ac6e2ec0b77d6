"""An import's problems: the English the command line prints, where and what, nothing personal."""

from __future__ import annotations

from ovenai.import_problems import Kind, Looks, Problem, looks, shown


def test_a_problem_says_where_it_is_by_the_files_title_else_by_the_field() -> None:
    problem = Problem.of(Kind.NOT_AN_AMOUNT, shown=shown("הרבה"))
    assert problem.at("want_budget_max", "תקציב").english() == (
        "column 'תקציב' (want_budget_max): 'הרבה' is not an amount "
        "(write 2800000, 2,800,000, 2.8M or 950K)"
    )
    assert (
        problem.at("want_budget_max", None)
        .english()
        .startswith("column 'want_budget_max': 'הרבה' is not")
    )
    assert Problem.of(Kind.FIELD_COUNT, fields=5, header=3).english() == (
        "the row has 5 fields but the header has 3"
    )


def test_a_required_value_is_named_and_a_warning_needs_no_column() -> None:
    assert Problem.of(Kind.REQUIRED).at("phone", "טלפון").english() == (
        "column 'טלפון' (phone): a phone number is required"
    )
    assert Problem.of(Kind.REQUIRED).at("city", None).english() == (
        "column 'city': a value is required"
    )
    landline = Problem.of(Kind.NOT_MOBILE, number="a landline").at("phone", "טלפון")
    assert landline.is_warning and landline.english().startswith("this is a landline: WhatsApp")
    assert not Problem.of(Kind.NOT_A_PHONE).is_warning


def test_a_personal_value_is_described_by_its_shape_never_shown() -> None:
    assert looks("050-123 45") == Looks(digits=8)
    assert looks("dana@example") == Looks(characters=12)
    problem = Problem(Kind.NOT_A_PHONE, looked=looks("12345")).at("phone", "טלפון")
    assert problem.english() == (
        "column 'טלפון' (phone): not a valid phone number (a value of 5 digits)"
    )
    assert "12345" not in problem.english()
    assert shown("x" * 40) == repr("x" * 30)
