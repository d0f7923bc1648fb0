"""Tally's one settings class: every part of the system reads its configuration from here.

Values come from the environment (prefix ``TALLY_``) or a ``.env`` file. Secrets are ``SecretStr`` with no
empty default, so a missing key is ``None`` and the code that needs it refuses to start with a message that
names the setting.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration shared by the API, the Dagster code location, the emulator and the CLI."""

    model_config = SettingsConfigDict(env_prefix="TALLY_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".tally"), description="Where local state lives: SQLite, DuckDB, dlt.")
    app_database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the app database; default SQLite in the data dir."
    )
    warehouse_url: str | None = Field(
        default=None, description="PostgreSQL URL of the warehouse; default a DuckDB file in the data dir."
    )
    encryption_keys: SecretStr | None = Field(
        default=None, description="Comma-separated Fernet keys; the first encrypts, all decrypt."
    )
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 secret that signs API tokens.")
    jwt_public_key: str | None = Field(default=None, description="PEM public key for RS256 tokens.")
    jwt_algorithms: list[str] = Field(default=["HS256"], description="Accepted JWT algorithms.")
    jwt_audience: str | None = Field(
        default=None, description="When set, a token must name it in `aud` (and `tally token` puts it there)."
    )
    jwt_issuer: str | None = Field(
        default=None, description="When set, a token must carry it as `iss` (and `tally token` puts it there)."
    )
    demo: bool = Field(default=False, description="Demo mode: missing keys are generated under the data dir.")

    meta_ads_base_url: str = "https://graph.facebook.com"
    meta_ads_api_version: str = "v23.0"
    meta_ads_conversion_action_type: str = Field(
        default="purchase", description="The one Meta action type counted as a conversion."
    )
    google_ads_base_url: str = "https://googleads.googleapis.com"
    google_ads_api_version: str = "v21"
    google_oauth_base_url: str = Field(
        default="https://oauth2.googleapis.com", description="Google's OAuth token endpoint host."
    )
    tiktok_ads_base_url: str = "https://business-api.tiktok.com"
    tiktok_ads_api_version: str = "v1.3"
    tiktok_ads_conversion_metric: str = Field(
        default="complete_payment", description="TikTok metric counted as conversions."
    )
    shopify_base_url: str = Field(
        default="https://{shop}.myshopify.com",
        description="Template of a store's Admin API host; {shop} is the store's myshopify handle.",
    )
    shopify_api_version: str = "2025-10"
    ga4_base_url: str = "https://analyticsdata.googleapis.com"
    ga4_admin_base_url: str = "https://analyticsadmin.googleapis.com"
    ecb_base_url: str = Field(
        default="https://www.ecb.europa.eu",
        description="Host of the European Central Bank's euro reference rates (`/stats/eurofxref/`).",
    )

    platform_base_url: str | None = Field(
        default=None, description="One host serving every platform's API (the emulator); overrides the URLs above."
    )

    rollup_cache_cells: int = Field(
        default=2_000_000,
        ge=0,
        description=(
            "Rollup answers over published marts the API keeps in memory, in cells (rows x columns, 60-100 bytes "
            "each); 0 keeps none."
        ),
    )
    answer_cache_bytes: int = Field(
        default=64_000_000,
        ge=0,
        description="Whole results answers each API worker keeps in memory, in bytes of JSON; 0 keeps none.",
    )
    api_workers: int = Field(
        default=1, ge=1, description="Worker processes of `tally api` (`--workers`); one per core."
    )
    api_shutdown_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM, how long `tally api` lets requests in flight finish before it cuts them off.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest request body the API reads; a larger one is answered 413."
    )

    http_timeout_seconds: float = Field(default=30.0, description="Timeout of one platform request.")
    http_max_attempts: int = Field(default=5, description="Attempts per platform request (429, 5xx).")
    http_backoff_factor: float = Field(default=1.0, description="Exponential backoff multiplier.")
    http_max_retry_delay_seconds: float = Field(default=60.0, description="Longest wait between attempts.")

    history_start: date = Field(default=date(2024, 1, 1), description="First day of the daily partitions.")
    client_shards: int = Field(
        default=1,
        ge=1,
        description="Shards the clients are split across (by a hash of the company id), each with its own raw and "
        "mart assets and its own client partitions, so that an asset's partition status and a partition backfill's "
        "launch stay cheap: about clients / 8; see the README's partitions figures.",
    )
    # Only the overrides: each platform's own default lives in its connector (pipelines/<platform>/settings.py),
    # and pipelines.registry.lookback_days merges these onto them.
    lookback_days: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Days a sync re-pulls (ending yesterday in the account's time zone) for the platforms named, "
        'as JSON such as `{"ga4": 5}`; every other platform keeps its connector\'s default.',
    )

    # The OpenAI SDK's own variable names, so one environment serves Tally and any other OpenAI client.
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="Key of the OpenAI-compatible server (OPENAI_API_KEY); a local server may need none.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="Base URL of any OpenAI-compatible server (OPENAI_BASE_URL); default OpenAI's own.",
    )
    llm_model: str | None = Field(
        default=None, description="Chat model answering questions and writing insights; unset: no model."
    )
    llm_timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one model request.")
    llm_max_retries: int = Field(
        default=2, ge=0, description="Retries of a failed model request (exponential backoff, Retry-After honoured)."
    )
    llm_max_tool_rounds: int = Field(default=6, ge=1, description="Tool-call rounds the model may take per question.")
    ask_deadline_s: float = Field(
        default=60.0,
        gt=0,
        description="Deadline of a whole answer of `/results/ask` (every model call, retry and tool round) and of "
        "a QBR the model writes, in seconds; past it the route answers 504.",
    )

    @field_validator("shopify_base_url")
    @classmethod
    def _shop_placeholder(cls, value: str) -> str:
        if "{shop}" not in value:
            raise ValueError("TALLY_SHOPIFY_BASE_URL must contain the placeholder {shop}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_platform_host(self) -> Settings:
        if not self.platform_base_url:
            return self
        base = self.platform_base_url.rstrip("/")
        for name in ("meta_ads", "google_ads", "google_oauth", "tiktok_ads", "ga4", "ga4_admin", "ecb"):
            object.__setattr__(self, f"{name}_base_url", base)
        object.__setattr__(self, "shopify_base_url", f"{base}/shopify/{{shop}}")
        return self

    @property
    def resolved_app_database_url(self) -> str:
        """The app database URL, defaulting to SQLite in the data dir."""
        return self.app_database_url or f"sqlite:///{(self.data_dir / 'app.db').resolve()}"

    @property
    def serving_dir(self) -> Path:
        """Where each company's marts are published as Parquet for the API (DuckDB warehouse only)."""
        return (self.data_dir / "serving").resolve()

    @property
    def rates_serving_dir(self) -> Path:
        """Where the exchange rates every company's conversions read are published as Parquet (DuckDB warehouse
        only); beside the companies' folders, not among them, since a full publish removes unknown folders."""
        return (self.data_dir / "serving_rates").resolve()

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB warehouse file used when no PostgreSQL warehouse is configured."""
        return (self.data_dir / "warehouse.duckdb").resolve()

    @property
    def llm_configured(self) -> bool:
        """Whether a model is set and there is a server to ask: a key for OpenAI, or a compatible base URL."""
        return bool(self.llm_model) and bool(self.openai_api_key or self.openai_base_url)

    def with_demo_secrets(self) -> Settings:
        """In demo mode, fill a missing encryption key and token secret from files under the data dir.

        The files are made on first use with mode 0600, so a demo keeps its keys between runs. Outside demo
        mode this returns the settings unchanged, and a missing key stays an error where it is needed.
        """
        if not self.demo:
            return self
        update: dict[str, SecretStr] = {}
        if not self.encryption_keys:
            key = _local_secret(self.data_dir / "encryption.key", lambda: base64.urlsafe_b64encode(os.urandom(32)))
            update["encryption_keys"] = SecretStr(key)
        if not self.jwt_secret:
            update["jwt_secret"] = SecretStr(
                _local_secret(self.data_dir / "jwt.secret", lambda: secrets.token_urlsafe(48).encode())
            )
        return self.model_copy(update=update)

    def point_platforms_at(self, base_url: str) -> Settings:
        """A copy of these settings whose platform clients all talk to one host (the emulator)."""
        return Settings.model_validate({**self.model_dump(), "platform_base_url": base_url})


def _local_secret(path: Path, make: Callable[[], bytes]) -> str:
    """Read a secret file, creating it readable by its owner only when it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(make())
    return path.read_text().strip()
