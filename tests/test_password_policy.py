"""The password policy: long enough, not the e-mail, not among the most common passwords."""

from __future__ import annotations

import pytest

from ovenai import password_policy
from ovenai.errors import InvalidInput

EMAIL = "Rina.Levi@agency.co.il"


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short1!", "at least 10 characters"),
        ("x" * (password_policy.MAX_LENGTH + 1), "at most"),
        ("rina.levi@agency.co.il", "may not be the e-mail"),
        ("  RINA.LEVI  ", "may not be the e-mail"),
        ("password123", "most common"),
        ("QWERTYUIOP", "most common"),
        ("1234567890", "most common"),
    ],
)
def test_a_password_breaking_a_rule_is_refused_naming_the_rule(password: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        password_policy.check(password, email=EMAIL)
    assert refused.value.field == "password"


@pytest.mark.parametrize(
    "password",
    ["a long enough password", "סיסמה ארוכה מספיק", "correct horse battery", "x" * 1024],
)
def test_a_long_uncommon_password_is_accepted_in_any_script(password: str) -> None:
    password_policy.check(password, email=EMAIL)


def test_the_common_list_is_the_ranked_top_ten_thousand() -> None:
    common = password_policy._common()
    assert len(common) == password_policy.COMMON_RANK
    assert "123456" in common and "password" in common
