"""Constraint references, USS availability and reports."""

from __future__ import annotations

import pytest

from sharedsky.errors import AreaTooLarge, Conflict, InvalidInput, NotFound, PermissionDenied
from sharedsky.model import NO_OVN_PHRASE, UssAvailabilityState
from sharedsky.model.strategic import (
    SCOPE_AVAILABILITY_ARBITRATION,
    SCOPE_CONSTRAINT_MANAGEMENT,
    Caller,
    PutConstraint,
)
from sharedsky.services import StrategicService
from sharedsky.store import Store
from tests.services.conftest import USS1, FakeClock, new_id, sub_params, vol

CM = Caller("authority", frozenset({SCOPE_CONSTRAINT_MANAGEMENT}))
CM2 = Caller("authority2", frozenset({SCOPE_CONSTRAINT_MANAGEMENT}))
AA = Caller("arbiter", frozenset({SCOPE_AVAILABILITY_ARBITRATION}))


def test_constraint_lifecycle(svc: StrategicService, store: Store) -> None:
    cid = new_id()
    watcher, _, _ = svc.put_subscription(
        new_id(), None, sub_params(oi=False, constraints=True, url="https://watch"), USS1
    )
    svc.put_subscription(new_id(), None, sub_params(url="https://oi-only"), USS1)
    ref, subscribers = svc.put_constraint(cid, None, PutConstraint((vol(),), "https://a"), CM)
    assert ref.version == 1 and ref.ovn and ref.ovn != NO_OVN_PHRASE
    assert [(s.uss_base_url, s.subscriptions[0].subscription_id) for s in subscribers] == [
        ("https://watch", watcher.id)
    ]
    assert svc.get_constraint(cid, USS1).ovn == NO_OVN_PHRASE
    assert [c.id for c in svc.query_constraints(vol(size=0.1), USS1)] == [cid]
    assert svc.query_constraints(vol(lat=30), USS1) == []
    with pytest.raises(Conflict):
        svc.put_constraint(cid, None, PutConstraint((vol(),), "https://a"), CM)
    with pytest.raises(PermissionDenied):
        svc.put_constraint(cid, ref.ovn, PutConstraint((vol(),), "https://a"), CM2)
    with pytest.raises(Conflict):
        svc.put_constraint(cid, "stale-ovn-stale-ovn", PutConstraint((vol(),), "https://a"), CM)
    with pytest.raises(InvalidInput):
        svc.put_constraint(new_id(), "some-ovn-some-ovn", PutConstraint((vol(),), "https://a"), CM)
    ref2, _ = svc.put_constraint(cid, ref.ovn, PutConstraint((vol(lat=46.5),), "https://a"), CM)
    assert ref2.version == 2 and ref2.ovn != ref.ovn
    with pytest.raises(PermissionDenied):
        svc.delete_constraint(cid, ref2.ovn, CM2)
    with pytest.raises(Conflict):
        svc.delete_constraint(cid, ref.ovn, CM)
    with pytest.raises(NotFound):
        svc.delete_constraint(new_id(), ref.ovn, CM)
    deleted, subscribers = svc.delete_constraint(cid, ref2.ovn, CM)
    assert deleted.version == 2 and subscribers == []  # the watcher covers the old area only
    with pytest.raises(NotFound):
        svc.get_constraint(cid, CM)
    with store.read() as tx:
        assert [e.operation for e in tx.events("constraint_reference", cid)] == [
            "create",
            "update",
            "delete",
        ]


def test_constraint_validation(svc: StrategicService) -> None:
    with pytest.raises(InvalidInput) as info:
        svc.put_constraint(new_id(), None, PutConstraint((), "https://a"), CM)
    assert info.value.field == "extents"
    with pytest.raises(InvalidInput) as info:
        svc.put_constraint(new_id(), None, PutConstraint((vol(),), ""), CM)
    assert info.value.field == "uss_base_url"
    # Constraints may be larger than intents (F3548 CstrMaxAreaKm2), but not unbounded.
    svc.put_constraint(new_id(), None, PutConstraint((vol(size=0.5),), "https://a"), CM)
    with pytest.raises(AreaTooLarge):
        svc.put_constraint(new_id(), None, PutConstraint((vol(size=2.0),), "https://a"), CM)


def test_uss_availability(svc: StrategicService, store: Store) -> None:
    unknown = svc.get_uss_availability("uss9", USS1)
    assert (unknown.availability, unknown.version) == (UssAvailabilityState.UNKNOWN, "")
    with pytest.raises(Conflict):
        svc.set_uss_availability("uss9", "bogus", UssAvailabilityState.DOWN, AA)
    down = svc.set_uss_availability("uss9", "", UssAvailabilityState.DOWN, AA)
    assert down.availability == UssAvailabilityState.DOWN and down.version
    assert svc.get_uss_availability("uss9", USS1) == down
    with pytest.raises(Conflict):
        svc.set_uss_availability("uss9", "", UssAvailabilityState.NORMAL, AA)
    normal = svc.set_uss_availability("uss9", down.version, UssAvailabilityState.NORMAL, AA)
    assert normal.version != down.version
    with pytest.raises(InvalidInput):
        svc.set_uss_availability("uss9", normal.version, "Sleepy", AA)  # type: ignore[arg-type]
    with store.read() as tx:
        assert len(tx.events("uss_availability", "uss9")) == 2


def test_reports_are_stored(svc: StrategicService, store: Store, clock: FakeClock) -> None:
    body = {"query": {"request": {"url": "https://dss/x"}}, "exchange": [1, 2]}
    rid = svc.make_report(body, USS1)
    rid2 = svc.make_report({}, USS1)
    assert rid and rid != rid2
    with store.read() as tx:
        assert tx.get_report(rid) == ("uss1", clock.now, body)
        assert [e.entity_id for e in tx.events("report")] == [rid, rid2]
    with pytest.raises(InvalidInput):
        svc.make_report(["not", "an", "object"], USS1)  # type: ignore[arg-type]
