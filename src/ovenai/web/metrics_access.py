"""Who may read /api/metrics: an allow-listed address, or the metrics bearer token.

The figures carry no personal data but do tell traffic, error rates and the product's
version to whoever asks, so by default only loopback (a Prometheus on the same host) may.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from ovenai.errors import AuthenticationFailed, PermissionDenied
from ovenai.settings import Settings
from ovenai.web.deps import SettingsDep


def allowed_address(settings: Settings, address: str | None) -> bool:
    """Whether the client's address is in OVENAI_METRICS_ALLOW."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in settings.metrics_networks)


def presented_token(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_metrics_access(request: Request, settings: SettingsDep) -> None:
    """Let an allow-listed address or the right token through; 401 or 403 otherwise."""
    if allowed_address(settings, request.client.host if request.client else None):
        return
    expected = settings.metrics_token
    if expected is None:
        raise PermissionDenied("metrics are readable from allow-listed addresses only")
    token = presented_token(request) or ""
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise AuthenticationFailed("metrics need the metrics token from this address")


MetricsAccessDep = Annotated[None, Depends(require_metrics_access)]
