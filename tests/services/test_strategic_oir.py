"""Operational intent references: OVNs, versions, the key check, states, ownership, times."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sharedsky.errors import (
    AirspaceConflict,
    AreaTooLarge,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from sharedsky.model import (
    NO_OVN_PHRASE,
    NULL_SUBSCRIPTION_ID,
    Circle,
    LatLng,
    NewSubscription,
    OperationalIntentState,
    UssAvailabilityState,
    Volume4D,
)
from sharedsky.model.strategic import SCOPE_AVAILABILITY_ARBITRATION, Caller
from sharedsky.services import StrategicService
from sharedsky.store import Store
from tests.services.conftest import (
    USS1,
    USS1_CMSA,
    USS2,
    FakeClock,
    new_id,
    oir_params,
    sub_params,
    vol,
)

S = OperationalIntentState


def _events(store: Store, kind: str = "operational_intent_reference") -> list[tuple[str, str]]:
    with store.read() as tx:
        return [(e.operation, e.entity_id) for e in tx.events(kind)]


def test_create_get_query_and_views(svc: StrategicService, store: Store) -> None:
    oid = new_id()
    ref, subscribers = svc.put_operational_intent(oid, None, oir_params(), USS1)
    assert ref.id == oid and ref.manager == "uss1" and ref.version == 1
    assert ref.state == S.ACCEPTED and ref.subscription_id == NULL_SUBSCRIPTION_ID
    assert ref.uss_availability == UssAvailabilityState.UNKNOWN
    assert ref.ovn is not None and 16 <= len(ref.ovn) <= 128
    assert subscribers == []
    assert svc.get_operational_intent(oid, USS1) == ref
    other_view = svc.get_operational_intent(oid, USS2)
    assert other_view.ovn == NO_OVN_PHRASE
    assert svc.query_operational_intents(vol(size=0.1), USS2) == [other_view]
    # Disjoint in space, altitude or time: not found.
    assert svc.query_operational_intents(vol(lat=47.0), USS1) == []
    assert svc.query_operational_intents(vol(lo=500, hi=600, size=0.1), USS1) == []
    assert svc.query_operational_intents(vol(start=timedelta(hours=2)), USS1) == []
    with pytest.raises(NotFound):
        svc.get_operational_intent(new_id(), USS1)
    assert _events(store) == [("create", oid)]


def test_every_write_changes_ovn_and_increments_version(svc: StrategicService) -> None:
    oid = new_id()
    ref, _ = svc.put_operational_intent(oid, None, oir_params(), USS1)
    seen = {ref.ovn}
    for expected_version in (2, 3):
        ref, _ = svc.put_operational_intent(oid, ref.ovn, oir_params(), USS1)
        assert ref.version == expected_version
        assert ref.ovn not in seen
        seen.add(ref.ovn)


def test_creating_an_existing_id_conflicts(svc: StrategicService) -> None:
    oid = new_id()
    svc.put_operational_intent(oid, None, oir_params(), USS1)
    with pytest.raises(Conflict):
        svc.put_operational_intent(oid, None, oir_params(vol(lat=10)), USS1)


def test_key_check_lists_missing_intents_in_callers_view(
    svc: StrategicService, store: Store
) -> None:
    a, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    mine, _ = svc.put_operational_intent(new_id(), None, oir_params(key=(a.ovn,)), USS1)
    with pytest.raises(AirspaceConflict) as info:
        svc.put_operational_intent(new_id(), None, oir_params(key=(mine.ovn,)), USS2)
    missing = info.value.missing_operational_intents
    assert [m.id for m in missing] == [a.id]
    assert missing[0].ovn == NO_OVN_PHRASE and info.value.missing_constraints == []
    # uss1 sees its own OVNs in the conflict.
    with pytest.raises(AirspaceConflict) as info:
        svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    assert {m.ovn for m in info.value.missing_operational_intents} == {a.ovn, mine.ovn}
    # With both OVNs (and a harmless extra one) the write is accepted.
    b, _ = svc.put_operational_intent(
        new_id(), None, oir_params(key=(a.ovn, mine.ovn, "x" * 20)), USS2
    )
    assert b.version == 1
    assert len(_events(store)) == 3  # rejected writes leave no event


def test_stale_ovn_counts_as_missing(svc: StrategicService) -> None:
    a, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    a2, _ = svc.put_operational_intent(a.id, a.ovn, oir_params(), USS1)
    with pytest.raises(AirspaceConflict):
        svc.put_operational_intent(new_id(), None, oir_params(key=(a.ovn,)), USS2)
    svc.put_operational_intent(new_id(), None, oir_params(key=(a2.ovn,)), USS2)


def test_no_key_needed_when_disjoint_in_time_altitude_or_cells(svc: StrategicService) -> None:
    svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    svc.put_operational_intent(
        new_id(), None, oir_params(vol(start=timedelta(hours=1, seconds=1))), USS2
    )
    svc.put_operational_intent(new_id(), None, oir_params(vol(lo=200, hi=300)), USS2)
    svc.put_operational_intent(new_id(), None, oir_params(vol(lat=46.5)), USS2)


def test_update_exempts_itself_but_not_new_neighbours(svc: StrategicService) -> None:
    a, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    a, _ = svc.put_operational_intent(
        a.id, a.ovn, oir_params(state=S.ACTIVATED, new_subscription=_ns()), USS1
    )
    far, _ = svc.put_operational_intent(new_id(), None, oir_params(vol(lat=46.5)), USS2)
    with pytest.raises(AirspaceConflict) as info:
        svc.put_operational_intent(a.id, a.ovn, oir_params(vol(lat=46.5)), USS1)
    assert [m.id for m in info.value.missing_operational_intents] == [far.id]


def test_accepted_intents_of_a_down_uss_need_no_key(svc: StrategicService) -> None:
    arbiter = Caller("arbiter", frozenset({SCOPE_AVAILABILITY_ARBITRATION}))
    accepted, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    act, _ = svc.put_operational_intent(new_id(), None, oir_params(vol(lat=10.0), key=()), USS1)
    act, _ = svc.put_operational_intent(
        act.id, act.ovn, oir_params(vol(lat=10.0), state=S.ACTIVATED, new_subscription=_ns()), USS1
    )
    svc.set_uss_availability("uss1", "", UssAvailabilityState.DOWN, arbiter)
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS2)
    assert svc.get_operational_intent(accepted.id, USS2).uss_availability == "Down"
    # An Activated intent of a Down USS still needs its OVN.
    with pytest.raises(AirspaceConflict) as info:
        svc.put_operational_intent(new_id(), None, oir_params(vol(lat=10.0)), USS2)
    assert [m.id for m in info.value.missing_operational_intents] == [act.id]
    assert ref.version == 1


def test_a_down_uss_cannot_make_intents_accepted_or_activated_nor_delete_them(
    svc: StrategicService,
) -> None:
    arbiter = Caller("arbiter", frozenset({SCOPE_AVAILABILITY_ARBITRATION}))
    mine, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    down = svc.set_uss_availability("uss1", "", UssAvailabilityState.DOWN, arbiter)
    with pytest.raises(PreconditionFailed):
        svc.put_operational_intent(new_id(), None, oir_params(key=(mine.ovn,)), USS1)
    with pytest.raises(PreconditionFailed):
        svc.put_operational_intent(mine.id, mine.ovn, oir_params(), USS1)
    with pytest.raises(PreconditionFailed):
        svc.delete_operational_intent(mine.id, mine.ovn, USS1)
    assert svc.get_operational_intent(mine.id, USS1).ovn == mine.ovn
    svc.set_uss_availability("uss1", down.version, UssAvailabilityState.NORMAL, arbiter)
    svc.delete_operational_intent(mine.id, mine.ovn, USS1)


def test_state_rules(svc: StrategicService) -> None:
    with pytest.raises(InvalidInput) as info:
        svc.put_operational_intent(new_id(), None, oir_params(state=S.ACTIVATED), USS1)
    assert info.value.field == "state"
    for state in (S.NONCONFORMING, S.CONTINGENT):
        with pytest.raises(PermissionDenied):
            svc.put_operational_intent(new_id(), None, oir_params(state=state), USS1)
    a, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    # Every state but Accepted needs a subscription.
    with pytest.raises(InvalidInput) as info:
        svc.put_operational_intent(a.id, a.ovn, oir_params(state=S.ACTIVATED), USS1)
    assert info.value.field == "subscription_id"
    with pytest.raises(PermissionDenied):
        svc.put_operational_intent(
            a.id, a.ovn, oir_params(state=S.NONCONFORMING, new_subscription=_ns()), USS1
        )
    # Not both kinds of subscription.
    sub, _, _ = svc.put_subscription(new_id(), None, sub_params(), USS1)
    with pytest.raises(InvalidInput):
        svc.put_operational_intent(
            a.id, a.ovn, oir_params(subscription_id=sub.id, new_subscription=_ns()), USS1
        )
    a, _ = svc.put_operational_intent(
        a.id, a.ovn, oir_params(state=S.ACTIVATED, subscription_id=sub.id), USS1
    )
    # Conformance monitoring may go off-nominal, and skips the key check.
    blocker, _ = svc.put_operational_intent(new_id(), None, oir_params(key=(a.ovn,)), USS2)
    c, _ = svc.put_operational_intent(
        a.id, a.ovn, oir_params(state=S.CONTINGENT, subscription_id=sub.id), USS1_CMSA
    )
    assert c.state == S.CONTINGENT and blocker.id != c.id
    # ... and back to Activated needs the key again.
    with pytest.raises(AirspaceConflict):
        svc.put_operational_intent(
            a.id, c.ovn, oir_params(state=S.ACTIVATED, subscription_id=sub.id), USS1_CMSA
        )


def _ns() -> NewSubscription:
    return NewSubscription("https://uss1.example.com")


def test_only_the_manager_with_the_current_ovn_updates_or_deletes(
    svc: StrategicService, store: Store
) -> None:
    a, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    with pytest.raises(PermissionDenied):
        svc.put_operational_intent(a.id, a.ovn, oir_params(key=(a.ovn,)), USS2)
    with pytest.raises(PermissionDenied):
        svc.delete_operational_intent(a.id, a.ovn, USS2)
    for bad in ("", "wrong-ovn-wrong-ovn"):
        with pytest.raises(Conflict):
            svc.put_operational_intent(a.id, bad, oir_params(), USS1)
        with pytest.raises(Conflict):
            svc.delete_operational_intent(a.id, bad, USS1)
    with pytest.raises(InvalidInput):
        svc.put_operational_intent(new_id(), "some-ovn-some-ovn", oir_params(), USS1)
    with pytest.raises(NotFound):
        svc.delete_operational_intent(new_id(), "some-ovn-some-ovn", USS1)
    deleted, subscribers = svc.delete_operational_intent(a.id, a.ovn, USS1)
    assert deleted.id == a.id and deleted.ovn == a.ovn and subscribers == []
    with pytest.raises(NotFound):
        svc.get_operational_intent(a.id, USS1)
    assert _events(store) == [("create", a.id), ("delete", a.id)]


def test_requested_ovn_suffix(svc: StrategicService, clock: FakeClock) -> None:
    def uuid7(offset: timedelta = timedelta()) -> str:
        ms = int((clock.now + offset).timestamp() * 1000)
        value = (ms << 80) | (0x7 << 76) | (uuid.uuid4().int & ((1 << 76) - 1))
        value = (value & ~(0x3 << 62)) | (0x2 << 62)
        return str(uuid.UUID(int=value))

    oid = new_id()
    suffix = uuid7(timedelta(minutes=-4))
    ref, _ = svc.put_operational_intent(oid, None, oir_params(requested_ovn_suffix=suffix), USS1)
    assert ref.ovn == f"{oid}_{suffix}"
    with pytest.raises(InvalidInput):  # the same OVN again is not a new OVN
        svc.put_operational_intent(oid, ref.ovn, oir_params(requested_ovn_suffix=suffix), USS1)
    for bad in (uuid7(timedelta(minutes=6)), uuid7(timedelta(minutes=-6)), str(uuid.uuid4()), "x"):
        with pytest.raises(InvalidInput) as info:
            svc.put_operational_intent(
                new_id(), None, oir_params(vol(lat=10), requested_ovn_suffix=bad), USS1
            )
        assert info.value.field == "requested_ovn_suffix"


def test_time_altitude_and_area_rules(svc: StrategicService, clock: FakeClock) -> None:
    cases = [
        (vol(start=timedelta(hours=-2)), "extents[0].time_end"),  # ended an hour ago
        (Volume4D(vol().outline, 0, 100, clock.now, None), "extents[0].time_end"),
        (Volume4D(vol().outline, 0, 100, None, clock.now), "extents[0].time_start"),
        (
            Volume4D(vol().outline, None, 100, clock.now, clock.now),
            "extents[0].volume.altitude_lower",
        ),
        (vol(duration=timedelta(0)), "extents[0].time_end"),
        (vol(lo=-9000), "extents[0].volume.altitude_lower.value"),
    ]
    for volume, field in cases:
        with pytest.raises(InvalidInput) as info:
            svc.put_operational_intent(new_id(), None, oir_params(volume), USS1)
        assert info.value.field == field, volume
    with pytest.raises(AreaTooLarge):
        svc.put_operational_intent(new_id(), None, oir_params(vol(size=1.0)), USS1)
    with pytest.raises(AreaTooLarge):
        svc.query_operational_intents(vol(lat=37.0, lng=-81.0, size=1.0), USS1)
    # A start in the past is fine as long as the end is not.
    svc.put_operational_intent(new_id(), None, oir_params(vol(start=timedelta(minutes=-30))), USS1)
    # Circles work as outlines too.
    circle = Volume4D(
        Circle(LatLng(10.0, 10.0), 500.0), 0, 50, clock.now, clock.now + timedelta(hours=1)
    )
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(circle), USS1)
    assert [r.id for r in svc.query_operational_intents(circle, USS2)] == [ref.id]


def test_query_without_times_looks_from_now(svc: StrategicService, clock: FakeClock) -> None:
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    area = Volume4D(vol().outline)
    assert [r.id for r in svc.query_operational_intents(area, USS1)] == [ref.id]
    clock.advance(hours=2)
    assert svc.query_operational_intents(area, USS1) == []
