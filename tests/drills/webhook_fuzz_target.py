"""The atheris (libFuzzer) target of the webhook parser: raw bytes in, the oracle checked.

Run by ``test_webhook_parser_fuzz.py`` (the short form in ``make test``, the long one in
``make drills``), or by hand, from the repository root::

    PYTHONPATH=tests .venv/bin/python -m drills.webhook_fuzz_target \\
        -max_total_time=60 -timeout=10 -dict=tests/drills/webhook.dict var/drills/webhook-corpus

Every module of ``ovenai`` it imports is instrumented, so libFuzzer's coverage feedback
steers it through the envelope, entry, change and item parsers (msgspec itself is C and
not instrumented). Anything :func:`drills.parser_oracle.check_body` rejects (an unexpected
exception, a failed assertion) is a crash: libFuzzer writes the input to
``-artifact_prefix`` and exits non-zero; an input taking longer than ``-timeout`` seconds
is a hang, reported the same way.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["ovenai"]):
    from drills.parser_oracle import check_body


def test_one_input(data: bytes) -> None:
    """libFuzzer's entry point: one body through the oracle."""
    check_body(data)


def main() -> None:
    """Hand the command line to libFuzzer and fuzz until it says stop."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
