"""What a password must be: long enough, not the e-mail, not a commonly used one.

Following NIST SP 800-63B rather than composition rules: at least :data:`MIN_LENGTH`
characters (any characters, Hebrew included), at most :data:`MAX_LENGTH`, not the user's
e-mail address or its local part, and not one of the :data:`COMMON_RANK` most common
passwords of leaked-password lists (the ranked list zxcvbn ships, compared case-blind).
"""

from __future__ import annotations

import functools

from ovenai.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024
COMMON_RANK = 10_000
# The refusals, one fixed sentence each: the dashboard finds its translation by the message.
TOO_SHORT = f"a password needs at least {MIN_LENGTH} characters"
TOO_LONG = f"a password may have at most {MAX_LENGTH} characters"
IS_THE_EMAIL = "a password may not be the e-mail address"
TOO_COMMON = "this password is among the most common ones and is guessed first; choose another"


@functools.cache
def _common() -> frozenset[str]:
    # Imported on first use: the module builds several large word lists on import.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    ranked: list[str] = FREQUENCY_LISTS["passwords"]
    return frozenset(ranked[:COMMON_RANK])


def check(password: str, *, email: str) -> None:
    """Refuse a password that breaks the policy, with InvalidInput saying which rule."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(TOO_SHORT, field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(TOO_LONG, field="password")
    folded = password.strip().casefold()
    address = email.strip().casefold()
    if folded in {address, address.partition("@")[0]}:
        raise InvalidInput(IS_THE_EMAIL, field="password")
    if folded in _common():
        raise InvalidInput(TOO_COMMON, field="password")
