"""The road permits a journey needs (one per country that is not the carrier's and issues
them), and what happens to the first one on a permit journey."""

from __future__ import annotations

import random
from collections.abc import Collection

from corridor.reference import CorridorReference
from simulator import ids
from simulator.config import JourneyKind
from simulator.plans import DAY, HOUR, Journey, Permit


def plan_permits(
    journey: Journey,
    rng: random.Random,
    serial: int,
    reference: CorridorReference,
    permit_countries: Collection[str],
    year: int,
) -> int:
    """The permits a foreign carrier needs on the path, one per issuing country; returns
    the issuers' serial counter, moved on."""
    carrier_country = ids.carrier_country(journey.carrier_id)
    if carrier_country is None:
        return serial
    countries = [reference.location(code).country for code in journey.path]
    last = len(countries) - 1
    for issuer in dict.fromkeys(countries):
        if issuer == carrier_country or issuer not in permit_countries:
            continue
        entry = countries.index(issuer)
        exit_ = last - countries[::-1].index(issuer)
        issued = journey.submitted - int(rng.uniform(1, 72) * HOUR)
        serial += rng.randrange(1, 40)
        journey.permits.append(
            Permit(
                permit_id=ids.permit_id(issuer, carrier_country, year, serial),
                issuer=issuer,
                issued=issued,
                expires=issued + 180 * DAY,
                entry_stay=entry,
                exit_stay=None if exit_ == last else exit_,
            )
        )
    return serial


def plan_permit_outcome(journey: Journey, draw: random.Random) -> None:
    """What happens to the first permit of a permit journey: revoked, lapsed or replaced."""
    if not journey.permits:
        journey.kind = JourneyKind.REGULAR
        return
    permit = journey.permits[0]
    if journey.kind is JourneyKind.PERMIT_REVOKED:
        permit.revoked_after_entry = int(draw.uniform(1, 48) * HOUR)
    elif journey.kind is JourneyKind.PERMIT_EXPIRED:
        permit.lapsed_before_entry = int(draw.uniform(1, 48) * HOUR)
    else:
        permit.revoked = permit.issued + int(draw.uniform(600, HOUR))
        issued = permit.revoked + 600
        journey.permits.insert(
            1,
            Permit(
                permit_id=permit.permit_id + "1",  # the issuer's next serial
                issuer=permit.issuer,
                issued=issued,
                expires=issued + 180 * DAY,
                entry_stay=permit.entry_stay,
                exit_stay=permit.exit_stay,
            ),
        )
