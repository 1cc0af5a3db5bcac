"""The corridor's locations (reference data): any carrier or operator key."""

from __future__ import annotations

from fastapi import APIRouter

from services.api import present, schemas
from services.api.deps import Context, Reader
from services.api.openapi import FORBIDDEN, responses
from services.common.reference_data import load_corridor_reference

_EXAMPLE = schemas.LocationList(
    reference_version="example",
    items=[present.location(load_corridor_reference().location("TR-KAPIKULE"))],
).model_dump(mode="json")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/locations", tags=["locations"])

    @router.get(
        "",
        summary="Corridor locations with coordinates, border counterparts and customs offices",
        response_model=schemas.LocationList,
        responses=responses(_EXAMPLE, FORBIDDEN),
    )
    async def locations(principal: Reader, context: Context) -> schemas.LocationList:
        reference = context.reference
        return schemas.LocationList(
            reference_version=reference.version,
            items=[present.location(loc) for loc in reference.locations],
        )

    return router
