"""Seeded Middle Corridor traffic: consignments, their events, delivery faults, ground truth.

    result = simulate(SimulationConfig(seed=7, consignments=300, days=30))
    result.truth                      # what a correct tracker must conclude
    for delivery in result.deliveries:  # lazily generated, in delivery order
        delivery.event, delivery.deliver_at, delivery.fault

`docs/simulator.md` describes the calibration, the faults and the file formats.
"""

from simulator.calibration import (
    DEFAULT_CALIBRATION,
    Calibration,
    CapacityEntry,
    DwellEntry,
    Lognormal,
)
from simulator.config import FAULT_PRESETS, FaultProfile, FaultRates, SimulationConfig
from simulator.faults import FaultKind, InvalidKind, InvalidPayload
from simulator.simulation import Delivery, SimulationResult, Summary, simulate
from simulator.sinks import HttpSink, KafkaSink, NdjsonSink, Pacer, SinkError, SinkStats, replay
from simulator.truth import ConsignmentTruth, GroundTruth
from simulator.truth_file import read_truth, write_truth

__all__ = [
    "DEFAULT_CALIBRATION",
    "FAULT_PRESETS",
    "Calibration",
    "CapacityEntry",
    "ConsignmentTruth",
    "Delivery",
    "DwellEntry",
    "FaultKind",
    "FaultProfile",
    "FaultRates",
    "GroundTruth",
    "HttpSink",
    "InvalidKind",
    "InvalidPayload",
    "KafkaSink",
    "Lognormal",
    "NdjsonSink",
    "Pacer",
    "SimulationConfig",
    "SimulationResult",
    "SinkError",
    "SinkStats",
    "Summary",
    "read_truth",
    "replay",
    "simulate",
    "write_truth",
]
