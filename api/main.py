"""The Tally API: one FastAPI app built from settings, with one router per resource."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from api.auth import TokenVerifier
from api.errors import install_error_handlers
from api.routes import connections, platforms, runs
from tally.settings import Settings
from warehouse.app_database import create_app_engine
from warehouse.vault import CredentialVault


def create_app(settings: Settings | None = None, engine: sa.Engine | None = None) -> FastAPI:
    """The API app. Refuses to start without an encryption key and a token key (except in demo mode)."""
    settings = (settings or Settings()).with_demo_secrets()
    app = FastAPI(
        title="Tally API",
        version="0.1.0",
        description="Every client's marketing results in one place.",
    )
    app.state.settings = settings
    app.state.vault = CredentialVault.from_settings(settings)
    app.state.token_verifier = TokenVerifier(settings)
    app.state.engine = engine or create_app_engine(settings.resolved_app_database_url)
    install_error_handlers(app)
    app.include_router(platforms.router)
    app.include_router(runs.router)
    app.include_router(connections.router)
    return app
