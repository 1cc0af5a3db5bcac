"""One consignment under one id, whatever order its messages arrived in.

An NCTS message naming only an MRN (an arrival notification, a frontier crossing) that
arrives before anything has linked that MRN to its declaration's LRN is filed under the
MRN: a placeholder consignment. Any later event of another consignment carrying that MRN
is the link: the placeholder is the same consignment, so its events move there and the
MRN becomes an alias of it. The rules here say which links a batch of events makes and
how events filed under an alias are re-filed; the tracker applies them
(`services.tracker.batch_tracker`), the store records the aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from corridor.events import TransitEvent


def placeholder_links(events: Iterable[TransitEvent]) -> dict[str, str]:
    """Per MRN: the consignment an event of another consignment links it to.

    An MRN named by events of several consignments links to the one whose event sorts
    first in timeline order, so the result does not depend on arrival order. A
    consignment that is itself a placeholder linked elsewhere is no target: it moves.
    """
    links: dict[str, str] = {}
    for event in sorted(events, key=lambda event: event.sort_key):
        mrn = event.references.mrn
        if mrn and mrn != event.consignment_id:
            links.setdefault(mrn, event.consignment_id)
    return {mrn: target for mrn, target in links.items() if target not in links}


def is_placeholder(consignment_id: str, mrn: str) -> bool:
    """Whether a consignment found by `mrn` was opened under that MRN, awaiting its link."""
    return consignment_id == mrn


def refiled(events: Iterable[TransitEvent], aliases: Mapping[str, str]) -> list[TransitEvent]:
    """`events`, those filed under an alias re-filed under the consignment it names."""
    return [
        event.model_copy(update={"consignment_id": aliases[event.consignment_id]})
        if event.consignment_id in aliases
        else event
        for event in events
    ]
