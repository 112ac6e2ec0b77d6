"""The typed layer of the Cloud API client: Meta's shapes in, typed results or errors out.

It knows nothing of leads or the database. Sends go to ``/{phone_number_id}/messages``;
template management to ``/{business_account_id}/message_templates``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from ovenai.cloudapi import payloads as p
from ovenai.cloudapi.connections import ConnectionPool
from ovenai.cloudapi.results import CreatedTemplate, SendResult, Template
from ovenai.cloudapi.transport import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    GraphTransport,
    Multipart,
)

JsonDict = dict[str, Any]


TEMPLATE_FIELDS = "name,status,category,language,components,parameter_format,quality_score"


class CloudApiClient:
    """Async client of the WhatsApp Cloud API for one business phone number."""

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str,
        business_account_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        pool: ConnectionPool | None = None,
        max_connections: int = 100,
    ) -> None:
        self.phone_number_id = phone_number_id
        self.business_account_id = business_account_id
        self.raw = GraphTransport(
            access_token=access_token,
            base_url=base_url,
            api_version=api_version,
            timeout=timeout,
            connect_timeout=connect_timeout,
            pool=pool,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return f"CloudApiClient(phone_number_id={self.phone_number_id!r}, raw={self.raw!r})"

    async def __aenter__(self) -> CloudApiClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections if the client opened them."""
        await self.raw.aclose()

    async def send_raw(self, body: Mapping[str, Any], *, endpoint: str = "messages") -> JsonDict:
        """POST any message body to ``/{phone_number_id}/messages``; Meta's JSON back."""
        return await self.raw.post(f"{self.phone_number_id}/messages", body, endpoint=endpoint)

    async def _send(self, kind: str, content: JsonDict, extras: JsonDict, **who: Any) -> SendResult:
        body = p.envelope(p.recipient_fields(**who), kind, content, extras)
        return SendResult.from_response(await self.send_raw(body, endpoint=f"send_{kind}"))

    async def send_template(
        self,
        *,
        name: str,
        language: str,
        to: str | None = None,
        recipient: str | None = None,
        body_params: p.BodyParams = (),
        header_params: p.BodyParams = (),
        buttons: Sequence[p.TemplateButton] = (),
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResult:
        """Send an approved template; named params as a mapping, positional as a list."""
        content = p.template_content(name, language, body_params, header_params, buttons)
        extras = p.send_extras(reply_to, callback_data)
        return await self._send("template", content, extras, to=to, recipient=recipient)

    async def send_text(
        self,
        *,
        text: str,
        to: str | None = None,
        recipient: str | None = None,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResult:
        """Send free text (only inside the user's 24-hour window)."""
        content = p.text_content(text, preview_url)
        extras = p.send_extras(reply_to, callback_data)
        return await self._send("text", content, extras, to=to, recipient=recipient)

    async def send_media(
        self,
        *,
        kind: p.MediaKind,
        to: str | None = None,
        recipient: str | None = None,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResult:
        """Send an image, document, audio, video or sticker by uploaded id or by link."""
        content = p.media_content(
            kind, media_id=media_id, link=link, caption=caption, filename=filename
        )
        extras = p.send_extras(reply_to, callback_data)
        return await self._send(kind, content, extras, to=to, recipient=recipient)

    async def send_interactive_buttons(
        self,
        *,
        body: str,
        buttons: Sequence[p.ReplyButton],
        to: str | None = None,
        recipient: str | None = None,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendResult:
        """Send a message with up to three reply buttons."""
        content = p.buttons_content(body, buttons)
        extras = p.send_extras(reply_to, callback_data)
        return await self._send("interactive", content, extras, to=to, recipient=recipient)

    async def mark_read(self, message_id: str, *, typing: bool = False) -> None:
        """Mark an inbound message (and the ones before it) as read."""
        await self.send_raw(p.mark_read_body(message_id, typing), endpoint="mark_read")

    async def upload_media(self, data: bytes, *, mime_type: str, filename: str) -> str:
        """Upload a file for later sends; returns Meta's media id."""
        form = Multipart.build(
            {"messaging_product": "whatsapp", "type": mime_type},
            name="file",
            data=data,
            filename=filename,
            mime_type=mime_type,
        )
        answer = await self.raw.post_form(f"{self.phone_number_id}/media", form, endpoint="media")
        return str(answer.get("id", ""))

    # -- going live: the account's management calls ----------------------------------------

    async def me(self) -> JsonDict:
        """``GET /me``: whose the access token is (Meta refuses an invalid token here)."""
        return await self.raw.get("me", endpoint="account", params={"fields": "id,name"})

    async def granted_permissions(self) -> list[str]:
        """The permissions granted to the access token (``GET /me/permissions``)."""
        answer = await self.raw.get("me/permissions", endpoint="account")
        return [
            str(item.get("permission"))
            for item in answer.get("data") or ()
            if item.get("status") == "granted"
        ]

    async def phone_numbers(self, *, waba_id: str | None = None) -> list[JsonDict]:
        """The business account's phone numbers with their status, name and quality."""
        fields = (
            "id,display_phone_number,verified_name,name_status,quality_rating,"
            "code_verification_status,platform_type,status"
        )
        answer = await self.raw.get(
            f"{self._waba(waba_id)}/phone_numbers", endpoint="account", params={"fields": fields}
        )
        return [dict(item) for item in answer.get("data") or ()]

    async def subscribed_apps(self, *, waba_id: str | None = None) -> list[JsonDict]:
        """The apps subscribed to the business account's webhooks."""
        answer = await self.raw.get(f"{self._waba(waba_id)}/subscribed_apps", endpoint="account")
        return [
            dict(item.get("whatsapp_business_api_data") or {}) for item in answer.get("data") or ()
        ]

    async def subscribe_app(self, *, waba_id: str | None = None) -> bool:
        """Subscribe the token's app to the business account's webhooks."""
        answer = await self.raw.post(
            f"{self._waba(waba_id)}/subscribed_apps", {}, endpoint="account"
        )
        return bool(answer.get("success"))

    async def register_number(self, pin: str) -> bool:
        """Register the business number with the Cloud API (its two-step verification PIN)."""
        body = {"messaging_product": "whatsapp", "pin": pin}
        answer = await self.raw.post(f"{self.phone_number_id}/register", body, endpoint="account")
        return bool(answer.get("success"))

    def _waba(self, waba_id: str | None) -> str:
        chosen = waba_id or self.business_account_id
        if not chosen:
            raise ValueError("no business_account_id given to the client or the call")
        return chosen

    async def iter_templates(
        self, *, waba_id: str | None = None, limit: int = 100, status: str | None = None
    ) -> AsyncIterator[Template]:
        """Yield every template of a WABA, following ``paging.next`` until exhausted."""
        params = {"limit": str(limit), "fields": TEMPLATE_FIELDS}
        params |= {"status": status} if status else {}
        page = await self.raw.get(
            f"{self._waba(waba_id)}/message_templates", endpoint="templates", params=params
        )
        while True:
            for item in page.get("data") or ():
                yield Template.from_graph(item)
            following = _next_page(page, params, self.raw.base_url)
            if following is None:
                return
            path, params = following
            page = await self.raw.get(
                path or f"{self._waba(waba_id)}/message_templates",
                endpoint="templates",
                params=params,
            )

    async def list_templates(
        self, *, waba_id: str | None = None, limit: int = 100, status: str | None = None
    ) -> list[Template]:
        """Every template of a WABA (all pages)."""
        return [t async for t in self.iter_templates(waba_id=waba_id, limit=limit, status=status)]

    async def create_template(
        self,
        *,
        name: str,
        language: str,
        category: str,
        components: Sequence[Mapping[str, Any]],
        waba_id: str | None = None,
        parameter_format: str | None = None,
    ) -> CreatedTemplate:
        """Submit a template for review; it starts ``PENDING``."""
        body = p.template_definition(name, language, category, components, parameter_format)
        answer = await self.raw.post(
            f"{self._waba(waba_id)}/message_templates", body, endpoint="template_create"
        )
        return CreatedTemplate.from_response(answer)


def _next_page(
    page: JsonDict, params: dict[str, str], base_url: str
) -> tuple[str, dict[str, str]] | None:
    """Where the next page is, or ``None`` once ``paging.next`` is absent.

    ``paging.next`` is followed as given when it lies under our own base URL; any other
    host falls back to the ``after`` cursor, so the token is never sent elsewhere.
    """
    paging = page.get("paging") or {}
    following = paging.get("next")
    if not following:
        return None
    if str(following).startswith(base_url + "/"):
        return str(following), {}
    after = (paging.get("cursors") or {}).get("after")
    return ("", {**params, "after": str(after)}) if after else None
