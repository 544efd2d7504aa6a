"""The key check sees what the planning loop's query saw, and where a 409 in a USS's own area
comes from.

A USS builds its key from the OVNs of what ``query_operational_intents`` returned for the area it
writes; the write then succeeds unless the airspace changed in between. These tests pin that for
one USS writing its own overlapping intents in turn (the ``mixed`` row of
``bench/strategic/run.py``), and the two ways such a USS still meets a 409 with no other USS near:
a write of its own between its query and its PUT, and an intent of several extents whose key
check covers their union.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sharedsky.errors import AirspaceConflict
from sharedsky.model import (
    LatLng,
    NewSubscription,
    OperationalIntentState,
    Polygon,
    Volume4D,
)
from sharedsky.services import StrategicService
from tests.services.conftest import USS1, FakeClock, box, new_id, oir_params

S = OperationalIntentState
URL = "https://uss1.example.com"


def _key_from_query(svc: StrategicService, area: Volume4D, entity_id: str) -> tuple[str, ...]:
    """The key of the planning loop: the OVNs of what the query returned (all the caller's own,
    so the DSS shows them), the intent being written left out."""
    found = svc.query_operational_intents(area, USS1)
    return tuple(sorted(o.ovn for o in found if o.id != entity_id))


def test_one_uss_writing_its_overlapping_intents_in_turn_never_meets_a_409(
    svc: StrategicService, clock: FakeClock
) -> None:
    # Three slots that overlap one another, with the boundary cases of the overlap test: slot 1
    # sits on top of slot 0 (60 m) and, when created, starts when slot 0 ends; slot 2 spans both.
    bands = [(0.0, 60.0), (60.0, 120.0), (0.0, 120.0)]
    starts = [timedelta(0), timedelta(minutes=30), timedelta(minutes=10)]
    t0 = clock.now
    slots: list[tuple[str, str] | None] = [None, None, None]
    phases = [0, 3, 2]  # staggered as in the benchmark: at most one slot empty at a time
    written = {"create": 0, "update": 0, "delete": 0}
    for turn in range(48):
        k = turn % 3
        phase = phases[k]
        phases[k] = (phase + 1) % 4
        current = slots[k]
        if current is None and phase:
            continue
        clock.advance(seconds=20)  # the Activated extents start in the past by then
        if phase == 3:
            assert current is not None
            svc.delete_operational_intent(*current, USS1)
            slots[k] = None
            written["delete"] += 1
            continue
        entity_id = current[0] if current else new_id()
        lo, hi = bands[k]
        # Updates start a minute earlier: a created slot 1 starts exactly when slot 0 ends.
        start = t0 + starts[k] - timedelta(minutes=phase > 0)
        end = t0 + starts[k] + timedelta(minutes=30)
        outline = box(46.0 + (0.001 if phase == 2 else 0.0), 7.0 + 0.003 * k, 0.008)
        extent = Volume4D(outline, lo, hi, start, end)
        # The query as the benchmark sends it (the extent itself), now and then with no altitudes.
        area = Volume4D(outline, None, None, start, end) if turn % 5 == 0 else extent
        key = _key_from_query(svc, area, entity_id)
        if phase == 2:
            params = oir_params(
                extent,
                key=key,
                state=S.ACTIVATED,
                new_subscription=NewSubscription(URL, notify_for_constraints=False),
            )
        else:
            params = oir_params(extent, key=key)
        ovn = current[1] if current else None
        ref, _ = svc.put_operational_intent(entity_id, ovn, params, USS1)
        slots[k] = (entity_id, ref.ovn)
        written["create" if current is None else "update"] += 1
    assert written == {"create": 12, "update": 23, "delete": 10}


def test_a_write_of_the_same_uss_between_its_query_and_its_put_is_a_409(
    svc: StrategicService, clock: FakeClock
) -> None:
    """F3548 exempts only the intent being written from the key ("The key does not need to
    contain the OVN for the operational intent being updated", utm.yaml): the writer's own other
    intents are relevant entities like any other, so a USS that writes two of its overlapping
    intents at once meets a 409 from itself."""
    start, end = clock.now, clock.now + timedelta(hours=1)
    area = Volume4D(box(46.0, 7.0), 0.0, 120.0, start, end)
    a, b = new_id(), new_id()
    b_ref, _ = svc.put_operational_intent(b, None, oir_params(area), USS1)
    key = _key_from_query(svc, area, a)
    assert key == (b_ref.ovn,)
    # Meanwhile the same USS updates b (its other flight).
    b_now, _ = svc.put_operational_intent(b, b_ref.ovn, oir_params(area, key=()), USS1)
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(a, None, oir_params(area, key=key), USS1)
    # The 409 names b with its current OVN (the writer manages it, so it is shown).
    assert [(o.id, o.ovn) for o in refused.value.missing_operational_intents] == [(b, b_now.ovn)]
    ref, _ = svc.put_operational_intent(a, None, oir_params(area, key=(b_now.ovn,)), USS1)
    assert ref.version == 1


def test_the_key_check_covers_the_union_of_an_intents_extents(
    svc: StrategicService, clock: FakeClock
) -> None:
    """An intent is kept as one covering with one altitude range and one time range (the DSS
    keeps no precise geometry), and the key check of a write takes the union of its extents,
    as the reference DSS does (``SearchOperationalIntents(ctx, params.UExtent)``). A USS that
    queries each extent on its own can then miss an intent that none of its extents meets in
    4D: here y is under the first extent's cells, but later, when the second extent is 15 km
    away. The query that the planning loop needs covers all extents over their whole span."""
    t = clock.now
    west = box(46.0, 7.0)
    east = box(46.0, 7.2)  # about 15 km east
    y = new_id()
    later = (t + timedelta(minutes=30), t + timedelta(minutes=40))
    svc.put_operational_intent(y, None, oir_params(Volume4D(west, 0.0, 120.0, *later)), USS1)
    first = Volume4D(west, 0.0, 120.0, t, t + timedelta(minutes=10))
    second = Volume4D(east, 0.0, 120.0, *later)
    assert svc.query_operational_intents(first, USS1) == []
    assert svc.query_operational_intents(second, USS1) == []

    x = new_id()
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(x, None, oir_params(first, second), USS1)
    assert [o.id for o in refused.value.missing_operational_intents] == [y]

    span = Polygon((LatLng(46.0, 7.0), LatLng(46.0, 7.21), LatLng(46.01, 7.21), LatLng(46.01, 7.0)))
    found = svc.query_operational_intents(
        Volume4D(span, 0.0, 120.0, t, t + timedelta(minutes=40)), USS1
    )
    assert [o.id for o in found] == [y]
    key = tuple(o.ovn for o in found)
    ref, _ = svc.put_operational_intent(x, None, oir_params(first, second, key=key), USS1)
    assert ref.version == 1
