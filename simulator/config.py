"""What a simulation run is asked to do: seed, size, window, mix, carriers, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveFloat, model_validator

from corridor.events import CarrierId, LocationCode
from simulator.calibration import DEFAULT_CALIBRATION, Calibration, Share

DEFAULT_START = datetime(2026, 3, 2, tzinfo=UTC)
DEFAULT_CARRIERS: tuple[str, ...] = (
    "carrier-kz-01",
    "carrier-kz-02",
    "carrier-kz-03",
    "carrier-kz-04",
    "carrier-tr-01",
    "carrier-tr-02",
    "carrier-ge-01",
    "carrier-az-01",
    "carrier-kg-01",
    "carrier-cn-01",
)


class FaultProfile(StrEnum):
    CLEAN = "clean"
    FAULTY = "faulty"


class ClockSkew(BaseModel):
    """One location's gate or port system stamps its events `seconds` off (ahead if
    positive) for the whole run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: LocationCode
    seconds: int = Field(ge=-86400, le=86400)


class SilentArrivals(BaseModel):
    """One gate reports departures but no arrivals for a day of the window (0 = first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: LocationCode
    day: int = Field(ge=0)


class FaultRates(BaseModel):
    """Probabilities of each delivery fault; all zero is a clean run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicate: Share = Field(default=0.0, description="Per event: an identical re-send.")
    out_of_order: Share = Field(
        default=0.0, description="Per event: delivered after the consignment's next events."
    )
    late: Share = Field(default=0.0, description="Per event: delivered 2-12 h after the fact.")
    missing_departure: Share = Field(
        default=0.0, description="Per departure (gate.departed, vessel.departed): dropped."
    )
    conflicting_duplicate: Share = Field(
        default=0.0,
        description="Per declaration.submitted / seals.checked: a re-send with the same "
        "event_id and occurred_at moved by minutes.",
    )
    invalid: Share = Field(
        default=0.0,
        description="Per stay and per declaration: an extra payload that breaks the contract.",
    )
    out_of_order_window: int = Field(
        default=3, ge=1, description="Up to this many of the consignment's next events overtake."
    )
    # Sources that misbehave as a whole, not event by event.
    late_declaration: Share = Field(
        default=0.0,
        description="Per consignment: its declaration messages arrive only after the first "
        "gate has reported it (the customs system was down, or batch-exports).",
    )
    batching_port: LocationCode | None = Field(
        default=None,
        description="This port's system sends each day's events in one batch at the next "
        "midnight UTC.",
    )
    clock_skew: ClockSkew | None = None
    silent_arrivals: SilentArrivals | None = None
    replayed_day: int | None = Field(
        default=None,
        ge=0,
        description="Every event delivered on this day of the window (0 = the first) is "
        "delivered again, in the same order, a day later: a source re-sent the whole day.",
    )

    @classmethod
    def preset(cls, profile: FaultProfile | str) -> FaultRates:
        return FAULT_PRESETS[FaultProfile(profile)]


FAULT_PRESETS: dict[FaultProfile, FaultRates] = {
    FaultProfile.CLEAN: FaultRates(),
    FaultProfile.FAULTY: FaultRates(
        duplicate=0.03,
        out_of_order=0.03,
        late=0.02,
        missing_departure=0.02,
        conflicting_duplicate=0.02,
        invalid=0.01,
        late_declaration=0.03,
        batching_port="AZ-ALAT",
        replayed_day=9,
        # Behind by 2 h at the Georgian side of Red Bridge, 1 km from the Azerbaijani
        # side: arrivals there are stamped before the departures they follow.
        clock_skew=ClockSkew(location="GE-RED-BRIDGE", seconds=-2 * 3600),
        silent_arrivals=SilentArrivals(location="GE-SARPI", day=12),
    ),
}


class JourneyKind(StrEnum):
    """How a consignment's journey goes; `docs/simulator.md` gives each one's truth."""

    REGULAR = "regular"
    REJECTED = "rejected"  # declaration rejected, never accepted: nothing moves
    CANCELLED = "cancelled"  # accepted, then cancelled before the first arrival
    BREAKDOWN = "breakdown"  # an incident on a land leg delays it by hours
    ACCIDENT = "accident"  # the same, longer
    SEAL_BROKEN = "seal_broken"  # incident on a land leg; new seals fitted there
    SEALS_REPLACED = "seals_replaced"  # physical inspection at an entry, new seals after
    PERMIT_REPLACED = "permit_replaced"  # a permit revoked before use, a new one issued
    PERMIT_REVOKED = "permit_revoked"  # revoked after its entrance was used
    PERMIT_EXPIRED = "permit_expired"  # expires before the truck enters the country
    DEVIATION = "deviation"  # travels another route to the same destination
    RETURN = "return"  # turned back to the previous location, then on again
    SPLIT = "split"  # reloaded onto two trucks at the Caspian port of arrival


class JourneyMix(BaseModel):
    """Share of consignments of each kind; the rest are regular. All assumed (no public
    figures): small shares that still give every kind in a month of traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rejected: Share = 0.02
    cancelled: Share = 0.01
    breakdown: Share = 0.02
    accident: Share = 0.005
    seal_broken: Share = 0.005
    seals_replaced: Share = 0.01
    permit_replaced: Share = 0.005
    permit_revoked: Share = 0.005
    permit_expired: Share = 0.005
    deviation: Share = 0.01
    return_: Share = Field(default=0.01, alias="return")
    split: Share = 0.005

    @classmethod
    def regular_only(cls) -> JourneyMix:
        return cls(**dict.fromkeys(_MIX_FIELDS, 0.0))

    def shares(self) -> list[tuple[JourneyKind, float]]:
        return [(JourneyKind(name), getattr(self, field)) for name, field in _MIX_FIELDS.items()]


_MIX_FIELDS = {kind.value: kind.value for kind in JourneyKind if kind is not JourneyKind.REGULAR}
_MIX_FIELDS["return"] = "return_"


class SimulationConfig(BaseModel):
    """One run. Same config, same output, byte for byte."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 7
    consignments: int = Field(default=300, ge=1)
    first_serial: int = Field(
        default=1,
        ge=1,
        le=999_999,
        description="Serial of the first consignment id (MC-<year>-<serial>): runs that share "
        "a database keep apart by starting past each other's ids",
    )
    start: AwareDatetime = DEFAULT_START
    days: PositiveFloat = 30.0
    road_share: Share = 0.7
    carriers: tuple[CarrierId, ...] = Field(default=DEFAULT_CARRIERS, min_length=1)
    faults: FaultRates = FaultRates()
    journeys: JourneyMix = JourneyMix()
    calibration: Calibration = DEFAULT_CALIBRATION
    capacity_scale: PositiveFloat | None = Field(
        default=None,
        description="Multiplier on real capacities; None: (consignments/day) / "
        "calibration.reference_daily_consignments.",
    )

    @model_validator(mode="after")
    def _serials_fit_six_digits(self) -> SimulationConfig:
        if self.first_serial + self.consignments - 1 > 999_999:
            raise ValueError("first_serial + consignments - 1 must not exceed 999999")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def effective_capacity_scale(self) -> float:
        if self.capacity_scale is not None:
            return self.capacity_scale
        per_day = self.consignments / self.days
        return per_day / self.calibration.reference_daily_consignments
