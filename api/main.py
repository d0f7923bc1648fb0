"""The Tally API: one FastAPI app built from settings, with one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import Depends, FastAPI

from api import health, metrics
from api.answer_cache import AnswerCache
from api.auth import TokenVerifier
from api.errors import install_error_handlers
from api.metrics import ApiMetrics
from api.middleware import RequestObserver
from api.request_checks import REQUEST_ERRORS, BodySizeLimit, well_formed_request
from api.routes import assistant, connections, goals, platforms, results, revisions, runs
from api.verified_tokens import VerifiedTokens
from assistant.model import create_language_model
from tally.settings import Settings
from warehouse.app_database import create_app_engine
from warehouse.serving import open_marts
from warehouse.vault import CredentialVault


def create_app(settings: Settings | None = None, engine: sa.Engine | None = None) -> FastAPI:
    """The API app. Refuses to start without an encryption key and a token key (except in demo mode)."""
    settings = (settings or Settings()).with_demo_secrets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.marts.close()
        if app.state.language_model is not None:
            app.state.language_model.close()

    app = FastAPI(
        title="Tally API",
        version="0.1.0",
        description="Every client's marketing results in one place.",
        lifespan=lifespan,
        dependencies=[Depends(well_formed_request)],
        responses=REQUEST_ERRORS,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.state.metrics = ApiMetrics(lambda: app.state.marts.publish_times())
    app.state.settings = settings
    app.state.vault = CredentialVault.from_settings(settings)
    app.state.token_verifier = TokenVerifier(settings)
    app.state.verified_tokens = VerifiedTokens(app.state.token_verifier)
    app.state.engine = engine or create_app_engine(settings.resolved_app_database_url)
    app.state.marts = open_marts(settings, observe=app.state.metrics.observe_cache)
    app.add_middleware(
        AnswerCache,
        tokens=app.state.verified_tokens,
        marts=app.state.marts,
        engine=app.state.engine,
        max_bytes=settings.answer_cache_bytes,
        observe=app.state.metrics.observe_cache,
    )
    # Added last, so it is the outermost of ours: its duration and status cover the body limit's answers too.
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    app.state.language_model = create_language_model(settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(platforms.router)
    app.include_router(runs.router)
    app.include_router(connections.router)
    app.include_router(results.router)
    app.include_router(revisions.router)
    app.include_router(goals.router)
    app.include_router(assistant.router)
    return app


def app_from_environment() -> FastAPI:
    """The app built from the environment's settings: what each ``tally api`` worker imports and calls."""
    return create_app(Settings())
