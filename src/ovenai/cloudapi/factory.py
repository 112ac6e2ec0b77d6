"""The Cloud API client built from the product's settings (the one place that reads them).

The worker sends with it and the template commands manage templates with it. Only the
WHATSAPP_* settings are read: the client still knows nothing of leads or the database.
"""

from __future__ import annotations

from ovenai.cloudapi.client import CloudApiClient
from ovenai.settings import Settings


def client_from(
    settings: Settings, *, waba_id: str | None = None, max_connections: int = 100
) -> CloudApiClient:
    """The client of the configured business number; ``waba_id`` overrides the settings' WABA.

    Raises ConfigurationError when WHATSAPP_ACCESS_TOKEN is not set.
    """
    return CloudApiClient(
        access_token=settings.secret("whatsapp_access_token"),
        phone_number_id=settings.whatsapp_phone_number_id or "",
        business_account_id=waba_id or settings.whatsapp_business_account_id,
        base_url=settings.whatsapp_api_base_url,
        api_version=settings.whatsapp_api_version,
        max_connections=max_connections,
    )
