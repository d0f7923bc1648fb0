"""The platforms Tally connects to: the one place that lists them, served by ``GET /api/clients/platforms``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipelines import ga4, google_ads, meta_ads, shopify, tiktok_ads
from pipelines.base import KINDS, ConnectionTestResult, Credentials, PlatformSpec
from pipelines.budget import Budget
from tally.errors import ConfigurationError, InvalidCredentials, InvalidPlatform, PlatformError
from tally.settings import Settings

PLATFORMS: dict[str, PlatformSpec] = {
    spec.id: spec for spec in (meta_ads.SPEC, google_ads.SPEC, tiktok_ads.SPEC, shopify.SPEC, ga4.SPEC)
}


def get_platform(platform_id: str) -> PlatformSpec:
    """The platform with this id, or ``InvalidPlatform`` naming the ones that exist."""
    try:
        return PLATFORMS[platform_id]
    except KeyError:
        raise InvalidPlatform(f"Invalid platform: expected one of {', '.join(PLATFORMS)}") from None


def platforms_of_kind(kind: str) -> tuple[str, ...]:
    """The ids of the platforms of one ``kind`` (``"ads"``: the ones a backfill loads), in registry order."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return tuple(platform for platform, spec in PLATFORMS.items() if spec.kind == kind)


def parse_credentials(spec: PlatformSpec, raw: Any) -> Credentials:
    """Validate raw credentials against the platform's schema; the error names fields, never values."""
    try:
        return spec.credentials_model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"]) or "credentials"
            problems.append(f"{field}: {error['msg']}")
        raise InvalidCredentials(f"Invalid credentials for {spec.display_name}: {'; '.join(problems)}") from None


def check_connection(
    spec: PlatformSpec, credentials: Credentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Run the platform's connection test; a platform failure it did not turn into a result becomes one.

    ``budget`` collects what the platform says of its call budget while it answers (for the connection's health).
    """
    try:
        return spec.test_connection(credentials, settings, budget)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)


def lookback_days(settings: Settings, platform: str) -> int:
    """Days a sync of ``platform`` re-pulls: its ``TALLY_LOOKBACK_DAYS`` override, else the connector's own default.

    An override naming no platform is refused rather than ignored, so a misspelt key cannot silently leave a
    platform on its default.
    """
    spec = get_platform(platform)
    unknown = sorted(set(settings.lookback_days) - set(PLATFORMS))
    if unknown:
        raise ConfigurationError(
            f"TALLY_LOOKBACK_DAYS names an unknown platform: {', '.join(unknown)}; expected {', '.join(PLATFORMS)}"
        )
    return settings.lookback_days.get(platform, spec.lookback_days)
