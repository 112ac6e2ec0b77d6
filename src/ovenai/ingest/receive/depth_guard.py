"""A cheap nesting-depth check that runs before JSON decoding.

msgspec raises a bare ``RecursionError`` on very deep JSON (about 1,000 levels); a
webhook never nests more than about ten, so we reject anything past ``MAX_DEPTH`` first.
The scan is a few C-level passes over the bytes: drop escapes, drop string contents,
keep only brackets, then take the running maximum of +1/-1.
"""

from __future__ import annotations

from itertools import accumulate

MAX_DEPTH = 64

_OPENERS = b"[{"
_CLOSERS = b"]}"
# Openers become +1 and closers -1 once the bytes are read as signed chars.
_SIGNS = bytes.maketrans(_OPENERS + _CLOSERS, b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _OPENERS + _CLOSERS)


def nesting_depth(raw: bytes) -> int:
    """Return how deeply arrays/objects nest in ``raw``, ignoring brackets inside strings."""
    outside_strings = b"".join(_without_escapes(raw).split(b'"')[0::2])
    signs = outside_strings.translate(_SIGNS, _NOT_BRACKETS)
    return max(accumulate(memoryview(signs).cast("b")), default=0)


def is_too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Tell whether ``raw`` nests arrays/objects deeper than ``limit``."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return nesting_depth(raw) > limit


def _without_escapes(raw: bytes) -> bytes:
    """Drop ``\\\\`` then ``\\"`` so the remaining quotes delimit strings exactly."""
    if b"\\" not in raw:
        return raw
    return raw.replace(b"\\\\", b"").replace(b'\\"', b"")
