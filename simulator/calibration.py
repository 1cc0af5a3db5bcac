"""What the simulator draws from: dwell distributions, capacities, speeds, sailings.

Every figure names its source. CPMM (cpmm.carecprogram.org, reports 2020-2023, see
DOMAIN.md section 5) publishes *means*; we model dwell as a lognormal whose p90 is
`p90_ratio` times its median, so median = mean / exp(sigma^2 / 2) (1.35 for a ratio of
2.7). The dwell drawn here is the *service* time at a location (arrival, or the start
of processing after a capacity queue, to release); capacity queues and the wait for a
Caspian sailing come on top, as the simulation produces them.
"""

from __future__ import annotations

import math
import random
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from corridor.events import BorderDirection, TransportMode

Z90 = 1.2815515655446004  # standard normal quantile at 0.9
Share = Annotated[float, Field(ge=0.0, le=1.0)]

IN = BorderDirection.INBOUND
OUT = BorderDirection.OUTBOUND
ROAD = TransportMode.ROAD
RAIL = TransportMode.RAIL


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lognormal(_Frozen):
    """A lognormal given by its median and the ratio p90 / median."""

    median_hours: PositiveFloat
    p90_ratio: float = Field(default=2.7, ge=1.0)

    @property
    def mu(self) -> float:
        return math.log(self.median_hours * 3600.0)

    @property
    def sigma(self) -> float:
        return math.log(self.p90_ratio) / Z90


class DwellEntry(_Frozen):
    location: str
    mode: TransportMode
    direction: BorderDirection
    dwell: Lognormal
    source: str


class CapacityEntry(_Frozen):
    location: str
    mode: TransportMode
    per_day: PositiveFloat
    source: str


class SailingPlan(_Frozen):
    """Caspian ferries/feeders from the Kazakh ports to Alat (DOMAIN.md section 5)."""

    interval_days_min: PositiveFloat = 2.0  # "ferries every 2-5 days" (anecdotal)
    interval_days_max: PositiveFloat = 5.0
    sea_hours_mean: PositiveFloat = 20.0  # "about 20 h sailing" (anecdotal)
    sea_hours_sd: float = Field(default=2.0, ge=0.0)
    anchorage: Lognormal = Lognormal(median_hours=8.0, p90_ratio=2.7)  # assumed
    min_lead_hours: float = Field(default=2.0, ge=0.0)  # cut-off before sailing
    # Consignments per sailing at simulation scale; None: every ready consignment boards.
    vessel_capacity: int | None = Field(default=None, ge=1)


def _d(
    location: str,
    mode: TransportMode,
    direction: BorderDirection,
    median_hours: float,
    source: str,
    p90_ratio: float = 2.7,
) -> DwellEntry:
    return DwellEntry(
        location=location,
        mode=mode,
        direction=direction,
        dwell=Lognormal(median_hours=median_hours, p90_ratio=p90_ratio),
        source=source,
    )


_CN_ROAD = "CPMM 2023 China road mean 16.8 h -> median 12.4 h"
_KZ_ROAD = "CPMM 2023 Kazakhstan road mean 4.2 h -> median 3.1 h"
_KG_ROAD = "CPMM 2023 Kyrgyzstan road mean 1.3 h -> median 1.0 h"
_AZ_PORT = "CPMM 2023 Azerbaijan road mean 4.3 h -> 3.2 h, plus ~2 h unloading (assumed)"
_KZ_RAIL = "CPMM 2023 Kazakhstan rail mean 69.7 h (gauge change) -> median 51.6 h"
_CN_RAIL = "CPMM 2023 China rail mean 14.4 h -> median 10.7 h"
_ASSUMED = "assumed; no CPMM figure (not a CAREC BCP or a port)"

DEFAULT_DWELL: tuple[DwellEntry, ...] = (
    # Road, westbound: China -> Kazakhstan -> Caspian -> Azerbaijan -> Georgia -> Türkiye.
    _d("CN-KHORGOS", ROAD, OUT, 12.4, _CN_ROAD),
    _d("KZ-NUR-ZHOLY", ROAD, IN, 3.1, _KZ_ROAD),
    _d("CN-IRKESHTAM", ROAD, OUT, 12.4, _CN_ROAD),
    _d("KG-IRKESHTAM", ROAD, IN, 1.3, "CPMM 2020 Irkeshtam inbound mean 1.8 h -> median 1.3 h"),
    _d("CN-TORUGART", ROAD, OUT, 12.4, _CN_ROAD),
    _d("KG-TORUGART", ROAD, IN, 1.0, _KG_ROAD),
    _d("KG-AK-JOL", ROAD, OUT, 1.0, _KG_ROAD),
    _d("KZ-KORDAI", ROAD, IN, 3.1, _KZ_ROAD),
    _d("KZ-AKTAU", ROAD, OUT, 6.0, "port export clearance before loading; " + _ASSUMED),
    _d("KZ-KURYK", ROAD, OUT, 6.0, "port export clearance before loading; " + _ASSUMED),
    _d("AZ-ALAT", ROAD, IN, 5.0, _AZ_PORT),
    _d("AZ-RED-BRIDGE", ROAD, OUT, 10.1, "CPMM 2022 Krasnyi Most outbound mean 13.6 h"),
    _d("GE-RED-BRIDGE", ROAD, IN, 1.2, "CPMM 2023 Georgia inbound mean 1.6 h -> median 1.2 h"),
    _d("GE-SARPI", ROAD, OUT, 15.4, "CPMM 2022 Sarpi outbound mean 20.8 h -> median 15.4 h"),
    _d("TR-SARP", ROAD, IN, 3.0, _ASSUMED),
    _d("TR-KAPIKULE", ROAD, OUT, 6.0, _ASSUMED),
    _d("BG-KAPITAN-ANDREEVO", ROAD, IN, 4.0, _ASSUMED),
    _d("GE-POTI", ROAD, OUT, 8.0, "port hand-over at destination; " + _ASSUMED),
    _d("GE-BATUMI", ROAD, OUT, 8.0, "port hand-over at destination; " + _ASSUMED),
    # Rail.
    _d("CN-KHORGOS", RAIL, OUT, 10.7, _CN_RAIL),
    _d("CN-ALASHANKOU", RAIL, OUT, 10.7, _CN_RAIL),
    _d("KZ-ALTYNKOL", RAIL, IN, 51.6, _KZ_RAIL),
    _d("KZ-DOSTYK", RAIL, IN, 51.6, _KZ_RAIL),
    _d("KZ-AKTAU", RAIL, OUT, 8.0, "rail-to-ship transfer; " + _ASSUMED),
    _d("KZ-KURYK", RAIL, OUT, 8.0, "rail-to-ship transfer; " + _ASSUMED),
    _d("AZ-ALAT", RAIL, IN, 6.0, _AZ_PORT),
    _d("AZ-BEYUK-KESIK", RAIL, OUT, 6.0, _ASSUMED),
    _d("GE-GARDABANI", RAIL, IN, 4.0, _ASSUMED),
    _d("GE-POTI", RAIL, OUT, 12.0, "rail-to-ship at destination; " + _ASSUMED),
    _d("GE-BATUMI", RAIL, OUT, 12.0, "rail-to-ship at destination; " + _ASSUMED),
    _d("GE-AKHALKALAKI", RAIL, OUT, 10.0, "gauge change 1520/1435 mm; " + _ASSUMED),
    _d("TR-KARS", RAIL, IN, 6.0, _ASSUMED),
    # Eastbound: Europe/Türkiye -> Georgia -> Azerbaijan -> Caspian -> Kazakhstan -> China.
    _d("BG-KAPITAN-ANDREEVO", ROAD, OUT, 4.0, _ASSUMED),
    _d("TR-KAPIKULE", ROAD, IN, 6.0, _ASSUMED),
    _d("TR-SARP", ROAD, OUT, 3.0, _ASSUMED),
    _d("GE-SARPI", ROAD, IN, 1.2, "CPMM 2023 Georgia inbound mean 1.6 h -> median 1.2 h"),
    _d("GE-RED-BRIDGE", ROAD, OUT, 33.6, "CPMM 2023 Georgia road outbound mean 45.3 h"),
    _d("AZ-RED-BRIDGE", ROAD, IN, 2.3, "CPMM 2022 Krasnyi Most inbound mean 3.1 h"),
    _d("AZ-ALAT", ROAD, OUT, 6.0, "port export clearance before loading; " + _ASSUMED),
    _d("KZ-AKTAU", ROAD, IN, 3.1, _KZ_ROAD + ", plus unloading"),
    _d("KZ-KURYK", ROAD, IN, 3.1, _KZ_ROAD + ", plus unloading"),
    _d("KZ-NUR-ZHOLY", ROAD, OUT, 3.1, _KZ_ROAD),
    _d("CN-KHORGOS", ROAD, IN, 12.4, _CN_ROAD),
    _d("KZ-KORDAI", ROAD, OUT, 3.1, _KZ_ROAD),
    _d("KG-AK-JOL", ROAD, IN, 1.0, _KG_ROAD),
    _d("KG-IRKESHTAM", ROAD, OUT, 1.0, _KG_ROAD),
    _d("CN-IRKESHTAM", ROAD, IN, 12.4, _CN_ROAD),
    _d("GE-POTI", RAIL, OUT, 12.0, "ship-to-rail at origin; " + _ASSUMED),
    _d("TR-KARS", RAIL, OUT, 6.0, _ASSUMED),
    _d("GE-AKHALKALAKI", RAIL, IN, 10.0, "gauge change 1435/1520 mm; " + _ASSUMED),
    _d("GE-GARDABANI", RAIL, OUT, 4.0, _ASSUMED),
    _d("AZ-BEYUK-KESIK", RAIL, IN, 6.0, _ASSUMED),
    _d("AZ-ALAT", RAIL, OUT, 8.0, "rail-to-ship transfer; " + _ASSUMED),
    _d("KZ-AKTAU", RAIL, IN, 8.0, "ship-to-rail transfer; " + _ASSUMED),
    _d("KZ-KURYK", RAIL, IN, 8.0, "ship-to-rail transfer; " + _ASSUMED),
    _d("KZ-ALTYNKOL", RAIL, OUT, 51.6, _KZ_RAIL),
    _d("KZ-DOSTYK", RAIL, OUT, 51.6, _KZ_RAIL),
    _d("CN-KHORGOS", RAIL, IN, 10.7, _CN_RAIL),
    _d("CN-ALASHANKOU", RAIL, IN, 10.7, _CN_RAIL),
)

DEFAULT_CAPACITY: tuple[CapacityEntry, ...] = (
    CapacityEntry(
        location="KZ-NUR-ZHOLY",
        mode=ROAD,
        per_day=750,
        source="700-800 trucks/day accepted by China, Nov 2025 (DOMAIN.md 5)",
    ),
    CapacityEntry(
        location="CN-IRKESHTAM",
        mode=ROAD,
        per_day=100,
        source="about 100 trucks/day against 300 arriving, 2023 (DOMAIN.md 5)",
    ),
    CapacityEntry(
        location="AZ-RED-BRIDGE",
        mode=ROAD,
        per_day=1100,
        source="assumed; 1,350 trucks waiting in Dec 2023 says it saturates (DOMAIN.md 5)",
    ),
)

DEFAULT_ROUTE_WEIGHTS: dict[str, float] = {
    # Assumed split; the Kyrgyz branches are minor but Irkeshtam is over capacity.
    "road-nur-zholy-aktau-kapikule": 0.30,
    "road-nur-zholy-kuryk-kapikule": 0.20,
    "road-nur-zholy-aktau-poti": 0.25,
    "road-irkeshtam-aktau-kapikule": 0.10,
    "road-torugart-kuryk-batumi": 0.15,
    "rail-altynkol-aktau-poti": 0.50,
    "rail-dostyk-kuryk-batumi": 0.30,
    "rail-dostyk-kuryk-kars": 0.20,
    # Eastbound, assumed a fifth of each mode: China -> Europe dominates the flows.
    "road-kapikule-aktau-nur-zholy": 0.12,
    "road-kapikule-kuryk-nur-zholy": 0.08,
    "road-kapikule-aktau-irkeshtam": 0.05,
    "rail-poti-aktau-altynkol": 0.15,
    "rail-kars-kuryk-dostyk": 0.10,
}


class Calibration(_Frozen):
    """The default table reproduces DOMAIN.md section 5; every field can be overridden."""

    dwell: tuple[DwellEntry, ...] = DEFAULT_DWELL
    fallback_dwell: Lognormal = Lognormal(median_hours=4.0)  # any location not in the table
    capacity: tuple[CapacityEntry, ...] = DEFAULT_CAPACITY
    # Real consignments a day that the capacities above are sized against: a run with
    # N consignments over D days scales every capacity by (N / D) / this figure, so
    # small runs queue like the real corridor does. Sized so that Nur Zholy, which both
    # directions cross, runs just below its capacity: a queue that comes and goes
    # (DOMAIN.md 5) rather than one that grows for as long as the run lasts
    # (docs/simulator.md, "Capacities", has the utilisation and the waits).
    reference_daily_consignments: PositiveFloat = 1300.0
    road_speed_kmh: PositiveFloat = 42.0  # CPMM 2022 CAREC road SWOD
    rail_speed_kmh: PositiveFloat = 53.9  # CPMM 2022 CAREC rail SWOD
    speed_sigma: float = Field(default=0.12, ge=0.0)  # lognormal noise on speed
    min_leg_minutes: float = Field(default=10.0, ge=1.0)  # bridges, no-man's land
    exit: dict[TransportMode, Lognormal] = {
        ROAD: Lognormal(median_hours=0.25, p90_ratio=2.5),  # release to gate exit
        RAIL: Lognormal(median_hours=0.5, p90_ratio=2.5),
    }
    physical_inspection_share: dict[TransportMode, Share] = {ROAD: 0.10, RAIL: 0.05}
    documentary_check_share: Share = 0.15
    declaration_lead_hours: tuple[float, float] = (3.0, 36.0)
    sailings: SailingPlan = SailingPlan()
    # e-Permit: bilateral road permits for foreign trucks entering these countries.
    permit_countries: tuple[str, ...] = ("AZ", "GE", "TR")
    route_weights: dict[str, float] = DEFAULT_ROUTE_WEIGHTS

    def dwell_table(self) -> dict[tuple[str, TransportMode, BorderDirection], Lognormal]:
        return {(e.location, e.mode, e.direction): e.dwell for e in self.dwell}

    def capacity_table(self) -> dict[tuple[str, TransportMode], float]:
        return {(c.location, c.mode): c.per_day for c in self.capacity}


DEFAULT_CALIBRATION = Calibration()


def draw_seconds(rng: random.Random, law: Lognormal) -> int:
    """A duration drawn from `law`, in whole seconds, at least a minute."""
    return max(60, int(rng.lognormvariate(law.mu, law.sigma)))
