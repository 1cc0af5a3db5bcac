"""Request dependencies of the ingest routes, as `Annotated` aliases: the context
`create_app` built (`Context`) and who is publishing (`Publisher`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import require_roles
from services.common.keys import Principal, Role
from services.ingest.adapters.ncts_xsd import OfficialXsds
from services.ingest.directory import ConsignmentDirectory
from services.ingest.intake import EventIntake
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import EventPublisher
from services.ingest.settings import IngestSettings


@dataclass(frozen=True)
class IngestContext:
    """What `create_app` was given and built once, for the routes: one per app."""

    settings: IngestSettings
    intake: EventIntake
    directory: ConsignmentDirectory
    publisher: EventPublisher
    metrics: IngestMetrics
    ncts_xsds: OfficialXsds | None


def _context(request: Request) -> IngestContext:
    context: IngestContext = request.app.state.context
    return context


Context = Annotated[IngestContext, Depends(_context)]
Publisher = Annotated[Principal, Depends(require_roles(Role.PUBLISHER))]
