"""Caspian sailings: drawn on demand per (port, destination), booked first come first served."""

from __future__ import annotations

import random

from simulator.calibration import Calibration, draw_seconds
from simulator.plans import DAY, HOUR, Sailing

_VESSELS = ("Caspian Pioneer", "Mangystau Star", "Kuryk Express", "Alat Trader", "Shirvan")


class Sailings:
    """Sailings per (port, destination), drawn on demand, booked first come first served."""

    def __init__(self, rng: random.Random, plan_start: int, calibration: Calibration) -> None:
        self._rng = rng
        self._start = plan_start
        self._plan = calibration.sailings
        self._by_route: dict[tuple[str, str], list[Sailing]] = {}
        self._first_open: dict[tuple[str, str], int] = {}

    def _extend(self, route: tuple[str, str], sailings: list[Sailing]) -> None:
        plan, rng = self._plan, self._rng
        if sailings:
            last = sailings[-1].departs
            gap = rng.uniform(plan.interval_days_min, plan.interval_days_max) * DAY
            departs = int(last + gap)
        else:
            departs = self._start + int(rng.uniform(0, plan.interval_days_max) * DAY)
        sea = max(12.0, rng.gauss(plan.sea_hours_mean, plan.sea_hours_sd)) * HOUR
        arrives = departs + int(sea) + draw_seconds(rng, plan.anchorage)
        number = len(sailings) + 1
        voyage = f"{route[0][3:6]}-{route[1][3:6]}-{number:04d}"
        vessel = _VESSELS[(number + len(route[0])) % len(_VESSELS)]
        sailings.append(Sailing(route[0], route[1], vessel, voyage, departs, arrives))

    def board(self, origin: str, destination: str, ready: int) -> Sailing:
        key = (origin, destination)
        sailings = self._by_route.setdefault(key, [])
        capacity = self._plan.vessel_capacity
        # READY events come in time order, so sailings before `ready` are gone for good.
        index = self._first_open.get(key, 0)
        while True:
            while index >= len(sailings):
                self._extend(key, sailings)
            sailing = sailings[index]
            if sailing.departs >= ready and (capacity is None or sailing.booked < capacity):
                break
            if sailing.departs < ready:
                self._first_open[key] = index + 1
            index += 1
        sailing.booked += 1
        return sailing
