"""Meta's template creation rules as the simulator enforces them: one error per request.

Meta answers a template that breaks a creation rule with HTTP 400, code 100 ("Invalid
parameter"), an ``error_subcode`` naming the rule and ``error_user_title`` /
``error_user_msg`` for people (docs/whatsapp-api-notes.md "Template creation rules"). Like
Meta, the simulator names only the first broken rule; the product's own check
(:mod:`ovenai.templates.rules`) lists them all before any call.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from ovenai.simulator.meta_errors import MetaError
from ovenai.templates.rules import RuleViolation, refusals


@dataclass
class TemplateRuleError(MetaError):
    """A refused template creation, shaped like Meta's answer."""

    title_text: str = ""
    user_message: str = ""

    def envelope(self) -> dict[str, Any]:
        """``{"error": {"message": "Invalid parameter", ..., "error_user_msg": ...}}``."""
        error: dict[str, Any] = {
            "message": "Invalid parameter",
            "type": "OAuthException",
            "code": self.code,
            "is_transient": False,
            "error_user_title": self.title_text,
            "error_user_msg": self.user_message,
            "fbtrace_id": "A" + secrets.token_urlsafe(15),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def refusal(violation: RuleViolation) -> TemplateRuleError:
    """The error Meta answers for this broken rule."""
    return TemplateRuleError(
        100,
        details=f"{violation.where}: {violation.message}",
        http_status=400,
        subcode=violation.subcode,
        title_text=violation.title,
        user_message=f"{violation.where}: {violation.message}",
    )


def enforce(body: dict[str, Any]) -> None:
    """Raise Meta's error for the first creation rule the submission breaks."""
    broken = refusals(
        str(body.get("name") or ""),
        str(body.get("language") or ""),
        str(body.get("category") or ""),
        body.get("components"),
        parameter_format=str(body["parameter_format"]) if body.get("parameter_format") else None,
    )
    if broken:
        raise refusal(broken[0])
