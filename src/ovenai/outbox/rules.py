"""The rules a send must pass before it is queued, and again before it leaves.

* Free text only inside the lead's 24-hour customer-service window (Meta: Pricing › Customer
  service window): Meta would answer 131047; we answer 409 and tell the agent to use a
  template.
* Marketing templates never to a lead who opted out (Meta: Webhooks › user_preferences, error
  131050), nor to one without a lawful basis for marketing (an explicit opt-in, or §30A's
  inquiry exception: see :mod:`ovenai.consent`); utility templates still may go.
* Send to the identity Meta confirmed last (Cloud API › Business-scoped user IDs; Webhooks ›
  messages webhook › system messages): the BSUID (``recipient``), else the newest ``wa_id``,
  else the phone an agent entered (both in ``to``, with a ``+``). A user's number change
  replaces the ``wa_id`` and drops the BSUID of the old number, so an agent's phone for a
  number the user left is never written to.
* The template's language follows the lead's (the registry falls back to the other one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ovenai.errors import Conflict

SERVICE_WINDOW = timedelta(hours=24)
MARKETING = "MARKETING"


class OutsideServiceWindow(Conflict):
    """Free text to a lead whose 24-hour window is closed."""

    def __init__(self, last_inbound_at: datetime | None) -> None:
        when = (
            f"the lead last wrote at {last_inbound_at.isoformat(timespec='minutes')}"
            if last_inbound_at
            else "the lead has never written"
        )
        super().__init__(
            f"the 24-hour service window is closed ({when}): free text cannot be sent; "
            "send an approved template instead",
            field="text",
        )


class LeadOptedOut(Conflict):
    """A marketing template to a lead who opted out of marketing."""

    def __init__(self, template: str) -> None:
        super().__init__(
            f"the lead opted out of marketing messages: {template} is a marketing template",
            field="template",
        )


class LeadWithoutBasis(Conflict):
    """A marketing template to a lead with no lawful basis for marketing (ovenai.consent)."""

    def __init__(self, template: str) -> None:
        super().__init__(
            f"the lead has no recorded basis for marketing (no opt-in, no inquiry with the "
            f"refusal notice): {template} is a marketing template; utility messages only",
            field="template",
        )


class NoWhatsAppIdentity(Conflict):
    """The lead has no BSUID, WhatsApp id or phone number to send to."""

    def __init__(self) -> None:
        super().__init__("the lead has no phone number and no WhatsApp user id to send to")


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a message goes: ``to`` (a number, E.164) or ``recipient`` (a BSUID).

    ``fallback_to`` is the lead's number when the message goes to a BSUID: Meta refuses a
    BSUID recipient for some messages (131062), and the send then tries the number once.
    """

    to: str | None = None
    recipient: str | None = None
    fallback_to: str | None = None


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether the lead's customer-service window is open at ``now``."""
    return last_inbound_at is not None and now - last_inbound_at < SERVICE_WINDOW


def check_free_text(last_inbound_at: datetime | None, now: datetime) -> None:
    """Raise OutsideServiceWindow unless free text may be sent now."""
    if not window_open(last_inbound_at, now):
        raise OutsideServiceWindow(last_inbound_at)


def check_category(
    category: str | None, opted_out_at: datetime | None, template: str, *, basis: str | None
) -> None:
    """Raise LeadOptedOut for a marketing template to a lead who opted out, LeadWithoutBasis
    for one to a lead without a basis for marketing; anything else may go."""
    if (category or "").upper() != MARKETING:
        return
    if opted_out_at is not None:
        raise LeadOptedOut(template)
    if basis is None:
        raise LeadWithoutBasis(template)


def recipient_of(*, bsuid: str | None, wa_id: str | None, phone: str | None) -> Recipient:
    """The BSUID, else the wa_id, else the phone (numbers with their ``+``)."""
    number = number_of(wa_id, phone)
    if bsuid:
        return Recipient(recipient=bsuid, fallback_to=number)
    if number:
        return Recipient(to=number)
    raise NoWhatsAppIdentity()


def number_of(wa_id: str | None, phone: str | None) -> str | None:
    """The number to write to: WhatsApp's id of the user, else the phone; with a ``+``.

    Without the ``+`` Meta may read the number as local to the business's own country
    (Cloud API › Messages › Send messages).
    """
    number = wa_id or phone
    if not number:
        return None
    return number if number.startswith("+") else f"+{number}"


def template_language(asked: str | None, lead_language: str | None) -> str:
    """The language to look for: the one asked for, else the lead's, else Hebrew."""
    return asked or lead_language or "he"
