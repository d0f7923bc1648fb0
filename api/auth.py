"""Bearer tokens: JWTs carrying ``sub``, ``permissions``, ``companies`` and ``exp`` (DESIGN.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from tally.errors import AuthenticationFailed, ConfigurationError
from tally.settings import Settings

ALL_COMPANIES = "*"


@dataclass(frozen=True)
class Principal:
    """The caller a verified token speaks for."""

    sub: str
    permissions: frozenset[str]
    companies: frozenset[str]

    def can_reach(self, company_id: str) -> bool:
        """Whether the token names this company (or every company, for agency admins)."""
        return ALL_COMPANIES in self.companies or company_id in self.companies


class TokenVerifier:
    """Verifies tokens with the HS256 secret or the RS256 public key from settings, and, when the settings name
    them, the audience and issuer: a token signed with the same key for another service is then refused."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._required = ["sub", "exp", *(["aud"] if self._audience else []), *(["iss"] if self._issuer else [])]
        if settings.jwt_public_key:
            self._key: str = settings.jwt_public_key
            self._algorithms = [a for a in settings.jwt_algorithms if a.startswith(("RS", "ES", "PS"))] or ["RS256"]
        elif settings.jwt_secret and settings.jwt_secret.get_secret_value():
            self._key = settings.jwt_secret.get_secret_value()
            self._algorithms = [a for a in settings.jwt_algorithms if a.startswith("HS")] or ["HS256"]
        else:
            raise ConfigurationError("TALLY_JWT_SECRET (or TALLY_JWT_PUBLIC_KEY) is not set")

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; ``AuthenticationFailed`` for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": self._required},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("Token has expired") from None
        except jwt.PyJWTError:
            raise AuthenticationFailed("Invalid token") from None
        permissions, companies = claims.get("permissions", []), claims.get("companies", [])
        if not _is_string_list(permissions) or not _is_string_list(companies):
            raise AuthenticationFailed("Invalid token: permissions and companies must be lists of strings")
        return Principal(str(claims["sub"]), frozenset(permissions), frozenset(companies))


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def mint_token(
    settings: Settings, sub: str, permissions: list[str], companies: list[str], ttl_seconds: int = 3600
) -> str:
    """An HS256 token for local use (the CLI and the demo), naming the configured audience and issuer;
    production tokens come from the product."""
    if not settings.jwt_secret:
        raise ConfigurationError("TALLY_JWT_SECRET is not set: a token cannot be signed")
    claims: dict[str, object] = {
        "sub": sub,
        "permissions": permissions,
        "companies": companies,
        "iat": datetime.now(UTC),
        "exp": datetime.now(UTC) + timedelta(seconds=ttl_seconds),
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
