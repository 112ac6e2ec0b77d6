"""Who may read /api/metrics: an allow-listed address, or the metrics bearer token.

The figures carry no personal data but do tell traffic, error rates and the product's
version to whoever asks, so by default only loopback (a Prometheus on the same host) may.

The token is chosen by the operator, so it may be guessable: a wrong one is counted against
the caller's address with the API's bad bearer tokens (:func:`ovenai.signin.count_token_failure`,
429 past its limit), and an address past that limit is refused even the right token until
its window is over, so a throttled address learns nothing more from its guesses.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from ovenai import signin
from ovenai.errors import AuthenticationFailed, PermissionDenied
from ovenai.settings import Settings
from ovenai.web.deps import DbDep, SettingsDep, client_address


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


async def require_metrics_access(request: Request, settings: SettingsDep, db: DbDep) -> None:
    """Let an allow-listed address or the right token through; 401 or 403 otherwise, 429 for
    an address that sent too many wrong tokens (see the module docstring)."""
    if allowed_address(settings, request.client.host if request.client else None):
        return
    expected = settings.metrics_token
    if expected is None:
        raise PermissionDenied("metrics are readable from allow-listed addresses only")
    token = presented_token(request)
    if token is None:
        raise AuthenticationFailed("metrics need the metrics token from this address")
    address = client_address(request)
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        # Counted and checked in one step (429 past the limit), so a burst cannot slip past.
        await signin.count_token_failure(db, address=address)
        raise AuthenticationFailed("metrics need the metrics token from this address")
    # The right token after the limit is refused as a wrong one is: a throttled guesser
    # learns nothing from the answer. Of a burst, it passes only if fewer than the limit of
    # wrong guesses were counted before it.
    await signin.refuse_over_token_limit(db, address=address)


MetricsAccessDep = Annotated[None, Depends(require_metrics_access)]
