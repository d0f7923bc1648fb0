"""What every platform connector provides, and the shapes the rest of Tally sees of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, get_args

from dlt.sources import DltSource
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pipelines.budget import Budget
from tally.settings import Settings


class Credentials(BaseModel):
    """Base of each platform's credential schema. Secret fields are typed ``SecretStr``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def account_id(self) -> str:
        """The platform account these credentials read (ad account, customer, store, property)."""
        raise NotImplementedError

    def plain(self) -> dict[str, Any]:
        """Every field with secrets revealed: only for encrypting into the vault, never for output."""
        return {
            name: value.get_secret_value() if isinstance(value, SecretStr) else value
            for name, value in ((name, getattr(self, name)) for name in type(self).model_fields)
        }

    def secret_values(self) -> list[str]:
        """Every secret value held, so logs and errors can be checked for them."""
        return [
            value.get_secret_value()
            for value in (getattr(self, name) for name in type(self).model_fields)
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]


class ConnectionTestResult(BaseModel):
    """What one cheap, real call to the platform says about a set of credentials."""

    success: bool
    error: str | None = None
    account_id: str | None = None
    display_name: str | None = None
    currency: str | None = None
    timezone: str | None = None
    scopes: list[str] = Field(default_factory=list)
    # When the credential stops working unless renewed: Meta's debug_token, a Google refresh token granted for a
    # limited time; None where the platform's token does not expire.
    token_expires_at: datetime | None = None


class CredentialField(BaseModel):
    """One credential field as the product's connection form needs to know it. Never a value."""

    name: str
    type: str
    required: bool
    secret: bool
    help_text: str | None = None


# ``test_connection(credentials, settings, budget)``: ``budget`` collects what the platform says of its call budget.
TestConnection = Callable[[Any, Settings, Budget | None], ConnectionTestResult]
# What a platform's rows are: campaign delivery (unioned into the campaign_daily mart, backfilled on request),
# sales, or site traffic. ``warehouse.results.METRIC_SOURCE_KIND`` names them per metric.
KINDS = ("ads", "commerce", "analytics")
SourceFactory = Callable[..., DltSource]


@dataclass(frozen=True)
class RawTable:
    """One table a platform's dlt source loads into ``raw_<platform>``: its resource name and what it holds.

    The platform owns its tables; the Dagster raw assets (one per table) and their descriptions come from here.
    """

    name: str
    description: str


@dataclass(frozen=True)
class PlatformSpec:
    """A platform as the registry holds it: display metadata, credential schema and behaviour.

    ``source`` is called as ``source(credentials, start_date=..., end_date=..., company_id=..., settings=...,
    budget=...)`` and returns a ``DltSource`` whose resources load the platform's raw tables, ``raw_tables``, one
    resource each; its HTTP calls report the platform's budget and their waits to ``budget``. ``needed_scopes``
    names each scope Tally needs and what cannot be loaded without it (empty where the platform reports none).
    ``kind`` says what the platform's rows are: ``"ads"`` (campaign delivery, unioned into the campaign_daily mart
    and backfilled), ``"commerce"`` (sales) or ``"analytics"`` (traffic).
    """

    id: str
    display_name: str
    icon: str
    help_text: str
    credentials_model: type[Credentials]
    test_connection: TestConnection
    source: SourceFactory
    # Days a sync re-pulls (late conversions are restated), from the connector's settings module; the one
    # definition that TALLY_LOOKBACK_DAYS overrides per platform (pipelines.registry.lookback_days).
    lookback_days: int
    raw_tables: tuple[RawTable, ...]
    kind: str = "ads"
    needed_scopes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    def credential_fields(self) -> list[CredentialField]:
        """The credential form, derived from the schema so it cannot drift from validation."""
        fields = []
        for name, info in self.credentials_model.model_fields.items():
            types = get_args(info.annotation) or (info.annotation,)
            fields.append(
                CredentialField(
                    name=name,
                    type="object" if dict in [getattr(t, "__origin__", t) for t in types] else "string",
                    required=info.is_required(),
                    secret=SecretStr in types,
                    help_text=info.description,
                )
            )
        return fields


def date_range_params(start_date: date, end_date: date) -> tuple[str, str]:
    """ISO strings of an inclusive date range, refusing an inverted one early."""
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    return start_date.isoformat(), end_date.isoformat()
