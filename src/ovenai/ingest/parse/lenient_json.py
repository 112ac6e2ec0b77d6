"""How Meta's webhook JSON is read: leniently where the meaning is unambiguous.

Meta documents numbers and Unix times, yet a value sometimes arrives as a numeric string
(``"time": "1767100000"``); both mean the same, so every Struct of the raw layer is decoded
in msgspec's lax mode (``strict=False``): a numeric string fills an int or float field,
``"true"``/``"false"``/``1``/``0`` a bool field, the string ``"null"`` an optional number.
The Structs add the rest of the rules: a ``null`` where a list is documented reads as an
empty list, unknown keys are ignored, an unknown enum value keeps its raw string beside
``UNKNOWN`` (:class:`~ovenai.meta_enums.MetaEnum`). What still fails is a missing identifier
or a value of an unrelated type (an object where a string is documented): it fails the
smallest part of the body that holds it (:mod:`ovenai.ingest.parse.body_parser`).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

_T = TypeVar("_T")

# One decoder per type: building a decoder walks the type once, decoding then reuses it.
_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def read(raw: bytes | msgspec.Raw, type_: type[_T]) -> _T:
    """Decode ``raw`` as ``type_`` in lax mode; raises msgspec.ValidationError if it differs."""
    decoder: msgspec.json.Decoder[_T] | None = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_, strict=False)
    return decoder.decode(raw)
