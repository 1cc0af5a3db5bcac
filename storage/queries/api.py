"""Every read the API makes (``services.api.ports.ApiReads``), against PostgreSQL."""

from __future__ import annotations

from storage.queries.alerts import AlertQueries
from storage.queries.consignments import ConsignmentQueries
from storage.queries.health import HealthQueries
from storage.queries.kpis import KpiQueries
from storage.queries.locations import LocationQueries


class ApiQueries(ConsignmentQueries, LocationQueries, AlertQueries, KpiQueries, HealthQueries):
    """Construct with the pool: ``ApiQueries(pool)``."""
