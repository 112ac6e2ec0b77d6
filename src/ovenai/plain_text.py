"""Free text as people type it: bidi overrides, isolates and NUL are refused.

An override (U+202E) makes "RTL\u202eevil" show reversed wherever the text is shown, and NUL
cuts a value short in some tools; no one types them. The ordinary direction marks Hebrew
text uses (U+200E LRM, U+200F RLM, U+061C ALM) are kept: they change no letter's order.
"""

from __future__ import annotations

from pydantic import AfterValidator

REFUSED = frozenset(
    ["\x00", *(chr(code) for code in range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
)
"""NUL, the embeddings and overrides U+202A–U+202E, and the isolates U+2066–U+2069."""


def refuse_controls(value: str) -> str:
    """The value unchanged; ValueError naming the first refused character."""
    for char in value:
        if char in REFUSED:
            raise ValueError(f"must not contain the control character U+{ord(char):04X}")
    return value


PlainText = AfterValidator(refuse_controls)
"""Annotate a free-text ``str`` type with it: ``Annotated[str, ..., PlainText]``."""
