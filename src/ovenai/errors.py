"""The one error hierarchy of OvenAI.

Every error the product raises on purpose derives from :class:`OvenAIError`. Each class
knows the HTTP status a route answers with and the exit code a CLI command ends with, so
one handler per surface turns any of them into a clear answer::

    OvenAIError                      500 / exit 1
    ├── ConfigurationError           500 / exit 78   a setting is missing or malformed
    ├── InvalidInput                 422 / exit 65   bad field value (names the field)
    ├── AuthenticationFailed         401 / exit 77   no or bad credentials
    ├── PermissionDenied             403 / exit 77   authenticated but not allowed
    ├── NotFound                     404 / exit 66   no such lead / property / ...
    ├── Gone                         410 / exit 66   the lead was erased (nothing to read or write)
    ├── Conflict                     409 / exit 65   duplicate phone, state clash
    ├── TooManyRequests              429 / exit 75   rate limit on login / tokens
    ├── ServiceUnavailable           503 / exit 69   database or dependency down
    ├── CryptoError                  500 / exit 70   tampered or undecryptable data
    └── CloudApiError                502 / exit 69   Meta answered with an error
        (its subclasses live in ovenai.cloudapi.errors and carry Meta's fields)
"""

from __future__ import annotations


class OvenAIError(Exception):
    """Base of every deliberate OvenAI error."""

    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        """Shape the error for a JSON answer (never carries secrets)."""
        body: dict[str, object] = {"error": type(self).__name__, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ConfigurationError(OvenAIError):
    """A setting is missing or malformed; start-up stops."""

    exit_code = 78


class InvalidInput(OvenAIError):
    """A value given by a user or a file does not fit; names the field."""

    http_status = 422
    exit_code = 65


class AuthenticationFailed(OvenAIError):
    """No credentials, or credentials that do not match."""

    http_status = 401
    exit_code = 77


class PermissionDenied(OvenAIError):
    """The caller is known but their role may not do this."""

    http_status = 403
    exit_code = 77


class NotFound(OvenAIError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    http_status = 404
    exit_code = 66


class Gone(OvenAIError):
    """The lead (or its meeting or message) was erased: nothing of it is read or written again."""

    http_status = 410
    exit_code = 66


class Conflict(OvenAIError):
    """The request clashes with what is stored (duplicate phone, state rules)."""

    http_status = 409
    exit_code = 65


class TooManyRequests(OvenAIError):
    """Too many attempts in a short time (login, token guessing)."""

    http_status = 429
    exit_code = 75


class ServiceUnavailable(OvenAIError):
    """A dependency (the database) cannot be reached right now."""

    http_status = 503
    exit_code = 69


class CryptoError(OvenAIError):
    """Stored data failed to decrypt: tampered, moved or its key destroyed."""

    exit_code = 70


class CloudApiError(OvenAIError):
    """Base of the errors of Meta's Cloud API (see ovenai.cloudapi.errors)."""

    http_status = 502
    exit_code = 69
