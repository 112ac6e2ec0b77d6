"""Schemathesis over every operation of /api/v1/openapi.json, against a real sandbox.

Two runs of the ``st`` command, one with the demo admin's API token and one with none, each
over every operation the document lists (the test fails unless schemathesis tested them
all). Every run applies schemathesis's checks (no 5xx; status codes, content types, headers
and bodies as documented; schema-violating requests refused; a wrong method answered 405
with ``Allow``; ...) and ours (:mod:`drills.schema_hooks`: every 4xx in the error shape;
without a token, 401 on every operation that needs one). Three built-in checks are left
out, for the reasons in docs/drills.md: ``positive_data_acceptance`` (rules no JSON schema
can state, such as an opaque cursor or a period that ends after it starts, answer 422 to
schema-valid input), ``negative_data_rejection`` (the document is generated from the very
models that validate, so what it reports is pydantic's lax reading: ``since=0.5`` as a Unix
time, ``false`` as 0) and ``ignored_auth`` (after 30 wrong tokens from one address the API
answers 429 by design; the run without a token checks the 401s instead).

The short forms (``make test``) send a few cases per operation; the ``drills`` ones many,
through every phase (examples, coverage, fuzzing, stateful). A failure prints schemathesis's
report, with a curl command reproducing each case.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from drills.conftest import Sandbox

ST = str(Path(sys.executable).with_name("st"))
TESTS = Path(__file__).resolve().parents[1]
REPORTS = TESTS.parent / "var" / "drills"
LEFT_OUT = "positive_data_acceptance,negative_data_rejection,ignored_auth"


def _operations(sandbox: Sandbox) -> int:
    """How many operations the published OpenAPI document lists."""
    document = httpx.get(f"{sandbox.url}/api/v1/openapi.json", timeout=10).json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for ops in document["paths"].values() for method in ops if method in methods)


def _schemathesis(sandbox: Sandbox, *, token: bool, options: list[str], name: str) -> str:
    """Run ``st run`` over every operation; fail with its report unless nothing failed."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    command = [
        ST,
        "run",
        f"{sandbox.url}/api/v1/openapi.json",
        "--checks=all",
        f"--exclude-checks={LEFT_OUT}",
        "--generation-with-security-parameters=false",
        "--workers=1",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--no-color",
        f"--generation-database={REPORTS / 'schemathesis-examples'}",
        "--report=junit",
        f"--report-junit-path={REPORTS / f'schemathesis-{name}.xml'}",
        *options,
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {sandbox.token}"]
    environment = os.environ | {
        "PYTHONPATH": str(TESTS),
        "SCHEMATHESIS_HOOKS": "drills.schema_hooks",
        "OVENAI_DRILL_AUTH": "token" if token else "none",
    }
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=3600, check=False
    )
    report = result.stdout + result.stderr
    problems = _problems(REPORTS / f"schemathesis-{name}.xml")
    assert not problems, f"schemathesis found failures ({name}): {problems}\n{report}"
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) == _operations(sandbox), report
    return report


SCHEMATHESIS_LIMITS = ("Cannot generate an array with",)
"""Errors of schemathesis's own generator, not of the API: its fuzzing phase, mixing valid
and invalid parts, now and then gives up on the ``actions`` array of an automation rule (at
least one action, each of eight kinds told apart by ``type``); the rule's operations are
still tested by every other case and phase (docs/drills.md)."""


def _problems(junit: Path) -> list[str]:
    """Every failed operation of a run's JUnit report, and every error but the limits."""
    found = []
    for case in ElementTree.parse(junit).iter("testcase"):
        for outcome in case:
            text = outcome.text or ""
            if outcome.tag == "failure" or (
                outcome.tag == "error" and not any(limit in text for limit in SCHEMATHESIS_LIMITS)
            ):
                lines = [line.strip() for line in text.splitlines() if line.strip()]
                checks = [line for line in lines if line.startswith("- ")] or lines or [outcome.tag]
                found.append(f"{case.get('name')}: {checks[0]}")
    return found


QUICK = ["--phases=examples,fuzzing", "--max-examples=2"]
LONG = ["--phases=examples,coverage,fuzzing,stateful", "--max-examples=100"]


def test_a_quick_pass_over_every_operation_with_a_token_and_without(sandbox: Sandbox) -> None:
    _schemathesis(sandbox, token=True, options=QUICK, name="quick-token")
    _schemathesis(
        sandbox, token=False, options=["--phases=fuzzing", "--max-examples=1"], name="quick-none"
    )


@pytest.mark.drills
def test_every_operation_with_the_admins_token(sandbox: Sandbox) -> None:
    print(_schemathesis(sandbox, token=True, options=LONG, name="token")[-1500:])  # noqa: T201


@pytest.mark.drills
def test_every_operation_without_a_token(sandbox: Sandbox) -> None:
    options = ["--phases=examples,coverage,fuzzing", "--max-examples=20"]
    print(_schemathesis(sandbox, token=False, options=options, name="none")[-1500:])  # noqa: T201
