"""Domain errors. Raised where the problem is understood; the API turns each into one HTTP status.

Messages are shown to callers and written to logs, so they never hold a credential value.
"""

from __future__ import annotations


class TallyError(Exception):
    """Base of every error Tally raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlatformError(TallyError):
    """A platform answered with an error we could not recover from."""

    status_code = 502

    def __init__(self, platform: str, display_name: str, reason: str) -> None:
        super().__init__(f"{display_name}: {reason}")
        self.platform = platform
        self.reason = reason


class PlatformAuthError(PlatformError):
    """The platform refused the credentials: expired, revoked or wrong token."""


class PlatformRateLimited(PlatformError):
    """The platform kept throttling us after every retry."""


class PlatformUnavailable(PlatformError):
    """The platform could not be reached, timed out, or kept failing with 5xx."""


class PlatformResponseError(PlatformError):
    """The platform answered with something we cannot read (truncated JSON, an unknown shape)."""


class InvalidCredentials(TallyError):
    """Credentials do not match the platform's schema. The message names fields, never values."""

    status_code = 400


class InvalidPlatform(TallyError):
    """An unknown platform id."""

    status_code = 400


class ConnectionTestFailed(TallyError):
    """A new connection's credentials did not pass the platform's connection test."""

    status_code = 400


class NotFound(TallyError):
    """A resource does not exist or is outside the caller's companies."""

    status_code = 404


class ConnectionNotFound(NotFound):
    """No such connection for this company."""


class Conflict(TallyError):
    """The request conflicts with the current state."""

    status_code = 409


class PlatformAlreadyConnected(Conflict):
    """The company already has an active connection to this platform."""


class ConfigurationError(TallyError):
    """A required setting is missing or invalid; the message names the setting."""

    status_code = 503


class AuthenticationFailed(TallyError):
    """No token, or one that is malformed, badly signed or expired."""

    status_code = 401


class PermissionDenied(TallyError):
    """The token is valid but lacks the permission the route needs."""

    status_code = 403


class InvalidRequest(TallyError):
    """A request whose values are outside what the route accepts; the message names the allowed values."""

    status_code = 400


class ModelNotConfigured(ConfigurationError):
    """No language model is configured; the message names the settings that configure one."""

    def __init__(self) -> None:
        super().__init__(
            "No language model is configured: set TALLY_LLM_MODEL and OPENAI_API_KEY "
            "(or OPENAI_BASE_URL for an OpenAI-compatible server)"
        )


class ModelError(TallyError):
    """The language model's server failed or answered with something unusable."""

    status_code = 502


class ModelTimeout(ModelError):
    """The language model's server did not answer within TALLY_LLM_TIMEOUT_SECONDS."""

    status_code = 504


class AnswerDeadlineExceeded(ModelTimeout):
    """A whole answer (every model call and tool round of a question, or a QBR) outlasted TALLY_ASK_DEADLINE_S."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(
            f"{what} was not ready within its {seconds:g} s deadline (TALLY_ASK_DEADLINE_S): the language model's "
            "server, with the figures it asked for, took too long"
        )
        self.seconds = seconds
