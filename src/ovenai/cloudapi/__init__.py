"""Client of Meta's WhatsApp Business Cloud API (typed layer over a raw dict layer)."""

from ovenai.cloudapi.client import CloudApiClient
from ovenai.cloudapi.errors import CloudApiFailure, ErrorDetails, ErrorKind
from ovenai.cloudapi.factory import client_from
from ovenai.cloudapi.payloads import QuickReplyButton, ReplyButton, UrlButton
from ovenai.cloudapi.results import (
    CreatedTemplate,
    SendResult,
    Template,
    TemplateCategory,
)
from ovenai.cloudapi.transport import DEFAULT_API_VERSION, DEFAULT_BASE_URL, GraphTransport
from ovenai.meta_enums import TemplateStatus

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "CloudApiClient",
    "CloudApiFailure",
    "CreatedTemplate",
    "ErrorDetails",
    "ErrorKind",
    "GraphTransport",
    "QuickReplyButton",
    "ReplyButton",
    "SendResult",
    "Template",
    "TemplateCategory",
    "TemplateStatus",
    "UrlButton",
    "client_from",
]
