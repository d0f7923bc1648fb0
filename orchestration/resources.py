"""Dagster resources: settings, app database, vault and language model, chosen by configuration, holding no secret.

Secrets (encryption keys) are read from the environment by ``Settings`` inside the run; the resource's own fields
are only locations (data dir, database URLs, a platform host), so nothing secret is ever in run config.
"""

from __future__ import annotations

from functools import cached_property

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr

from assistant.model import LanguageModel, create_language_model
from tally.settings import Settings
from warehouse.app_database import create_app_engine
from warehouse.vault import CredentialVault


class TallyResource(dg.ConfigurableResource):
    """Settings, app database and credential vault for assets, sensors and schedules."""

    data_dir: str | None = None
    app_database_url: str | None = None
    warehouse_url: str | None = None
    platform_base_url: str | None = None
    _engine: sa.Engine | None = PrivateAttr(default=None)

    @cached_property
    def settings(self) -> Settings:
        """The environment's settings with this resource's locations on top."""
        overrides = {
            key: value
            for key, value in {
                "data_dir": self.data_dir,
                "app_database_url": self.app_database_url,
                "warehouse_url": self.warehouse_url,
            }.items()
            if value is not None
        }
        settings = Settings(**overrides).with_demo_secrets()
        return settings.point_platforms_at(self.platform_base_url) if self.platform_base_url else settings

    def app_engine(self) -> sa.Engine:
        """One engine per resource instance, on the app database."""
        if self._engine is None:
            self._engine = create_app_engine(self.settings.resolved_app_database_url)
        return self._engine

    def vault(self) -> CredentialVault:
        """The credential vault of the environment's keys."""
        return CredentialVault.from_settings(self.settings)


class LanguageModelResource(dg.ConfigurableResource):
    """The OpenAI-compatible chat model that writes insights; ``language_model()`` is None when none is configured.

    The fields override the environment's settings (``TALLY_LLM_MODEL``, ``OPENAI_BASE_URL``...). The key is
    read from ``OPENAI_API_KEY`` inside the run only, so it is never part of run config.
    """

    llm_model: str | None = None
    base_url: str | None = None
    timeout_seconds: float | None = None
    max_retries: int | None = None
    _model: LanguageModel | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The environment's model settings with this resource's fields on top."""
        overrides = {
            "llm_model": self.llm_model,
            "openai_base_url": self.base_url,
            "llm_timeout_seconds": self.timeout_seconds,
            "llm_max_retries": self.max_retries,
        }
        return Settings().model_copy(update={key: value for key, value in overrides.items() if value is not None})

    def language_model(self) -> LanguageModel | None:
        """One client per resource instance, made on first use."""
        if self._model is None:
            self._model = create_language_model(self.settings())
        return self._model

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None
