"""The checks of our own that schemathesis runs beside its built-in ones (``make drills``).

Loaded by the ``st`` command through ``SCHEMATHESIS_HOOKS=drills.schema_hooks`` (with
``tests`` on ``PYTHONPATH``), as ``test_api_schema.py`` runs it:

- ``error_shape``: every 4xx of the API is JSON whose first keys are ``error``, ``message``
  and ``field`` (tests/web/test_error_shape.py), in either run;
- ``bearer_required``: in the run without a token (``OVENAI_DRILL_AUTH=none``), every
  operation that declares a security requirement answers 401 with ``WWW-Authenticate:
  Bearer``, whatever else is wrong with the request (a method the path does not take is
  405 first).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

ERROR_KEYS = ["error", "message", "field"]


@schemathesis.check
def error_shape(ctx: Any, response: Any, case: Any) -> None:
    """A 4xx of the API carries the API's one error shape."""
    if not 400 <= response.status_code < 500 or not case.path.startswith("/api/"):
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"a {response.status_code} whose body is not JSON") from None
    assert isinstance(body, dict) and list(body)[:3] == ERROR_KEYS, (
        f"a {response.status_code} without the error shape {ERROR_KEYS}: {body!r}"
    )


@schemathesis.check
def bearer_required(ctx: Any, response: Any, case: Any) -> None:
    """Without a token, an operation that needs one answers 401 and asks for a bearer."""
    if os.environ.get("OVENAI_DRILL_AUTH") != "none":
        return
    if not case.operation.definition.raw.get("security"):
        return
    if response.request.method.upper() != case.operation.method.upper():
        return  # a method the path does not take (unsupported_method): 405 comes first
    assert response.status_code == 401, (
        f"{case.operation.label} answered {response.status_code} without a token, not 401"
    )
    assert response.headers.get("www-authenticate", [""])[0].lower().startswith("bearer"), (
        "a 401 without WWW-Authenticate: Bearer"
    )
