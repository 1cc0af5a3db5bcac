"""The domain's errors: one small hierarchy, mapped once to problem details at the edge.

CorridorError
├── InvalidIdentifier     an identifier breaks its shape or check-digit rule
├── ReferenceDataError    the corridor reference data is broken or a code is unknown
└── InvalidEvent          an event breaks a contract rule beyond its schema
"""

from __future__ import annotations


class CorridorError(Exception):
    """Base of every domain error; `field` names what was wrong, `rule` says why."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class InvalidIdentifier(CorridorError):
    pass


class ReferenceDataError(CorridorError):
    pass


class InvalidEvent(CorridorError):
    pass
