"""``GET /api/clients/platforms``: the platforms a client can connect, and the credentials each needs."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentPrincipal
from pipelines.base import CredentialField
from pipelines.registry import PLATFORMS

router = APIRouter(prefix="/api/clients", tags=["platforms"])


class PlatformOut(BaseModel):
    """A platform as the connection form shows it. Field descriptions only, never a value."""

    id: str
    display_name: str
    icon: str
    kind: str
    help_text: str
    credentials: list[CredentialField]


class PlatformsOut(BaseModel):
    """Every supported platform, keyed by id."""

    platforms: dict[str, PlatformOut]


@router.get("/platforms", response_model=PlatformsOut, responses={401: {"description": "Not authenticated"}})
def list_platforms(principal: CurrentPrincipal) -> PlatformsOut:
    """Metadata of every supported platform (authentication only, no permission needed)."""
    return PlatformsOut(
        platforms={
            spec.id: PlatformOut(
                id=spec.id,
                display_name=spec.display_name,
                icon=spec.icon,
                kind=spec.kind,
                help_text=spec.help_text,
                credentials=spec.credential_fields(),
            )
            for spec in PLATFORMS.values()
        }
    )
