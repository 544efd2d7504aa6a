"""Subscriptions: explicit and implicit, their time rules, subscribers and notification index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sharedsky.errors import AirspaceConflict, Conflict, InvalidInput, NotFound, PermissionDenied
from sharedsky.model import NewSubscription, OperationalIntentState, Volume4D
from sharedsky.model.strategic import SCOPE_CONSTRAINT_MANAGEMENT, Caller, PutConstraint
from sharedsky.services import StrategicService
from sharedsky.services.strategic import notification_index
from sharedsky.store import Store
from tests.services.conftest import USS1, USS2, FakeClock, new_id, oir_params, sub_params, vol

S = OperationalIntentState
CM = Caller("authority", frozenset({SCOPE_CONSTRAINT_MANAGEMENT}))


def _ns(url: str = "https://uss1.example.com", constraints: bool = False) -> NewSubscription:
    return NewSubscription(url, constraints)


def test_subscription_crud_and_versions(
    svc: StrategicService, store: Store, clock: FakeClock
) -> None:
    sid = new_id()
    sub, oirs, cons = svc.put_subscription(sid, None, sub_params(), USS1)
    assert (
        sub.id == sid and not sub.implicit_subscription and sub.dependent_operational_intents == ()
    )
    assert sub.notification_index == notification_index(clock.now) and (oirs, cons) == ([], [])
    assert svc.get_subscription(sid, USS1) == sub
    with pytest.raises(PermissionDenied):
        svc.get_subscription(sid, USS2)
    with pytest.raises(Conflict):
        svc.put_subscription(sid, None, sub_params(), USS1)
    with pytest.raises(Conflict):
        svc.put_subscription(sid, "not-the-version", sub_params(), USS1)
    with pytest.raises(PermissionDenied):
        svc.put_subscription(sid, sub.version, sub_params(), USS2)
    sub2, _, _ = svc.put_subscription(sid, sub.version, sub_params(constraints=True), USS1)
    assert sub2.version != sub.version and sub2.notify_for_constraints
    with pytest.raises(Conflict):
        svc.delete_subscription(sid, sub.version, USS1)
    with pytest.raises(PermissionDenied):
        svc.delete_subscription(sid, sub2.version, USS2)
    assert svc.delete_subscription(sid, sub2.version, USS1).id == sid
    with pytest.raises(NotFound):
        svc.get_subscription(sid, USS1)
    with pytest.raises(NotFound):
        svc.delete_subscription(sid, sub2.version, USS1)
    with store.read() as tx:
        ops = [e.operation for e in tx.events("subscription", sid)]
    assert ops == ["create", "update", "delete"]


def test_subscription_time_rules(svc: StrategicService, clock: FakeClock) -> None:
    outline = vol().outline
    with pytest.raises(InvalidInput) as info:
        svc.put_subscription(new_id(), None, sub_params(oi=False, constraints=False), USS1)
    assert info.value.field == "notify_for_operational_intents"
    # Defaults: start now, end 24 h later.
    sub, _, _ = svc.put_subscription(new_id(), None, sub_params(Volume4D(outline)), USS1)
    assert sub.time_start == clock.now and sub.time_end == clock.now + timedelta(hours=24)
    ok = Volume4D(outline, None, None, clock.now - timedelta(minutes=4))
    assert svc.put_subscription(new_id(), None, sub_params(ok), USS1)[0].time_start == ok.time_start
    bad = [
        (Volume4D(outline, None, None, clock.now - timedelta(minutes=6)), "extents.time_start"),
        (
            Volume4D(outline, None, None, clock.now, clock.now + timedelta(hours=24, seconds=1)),
            "extents.time_end",
        ),
        (
            Volume4D(outline, None, None, clock.now, clock.now - timedelta(seconds=1)),
            "extents.time_end",
        ),
        (Volume4D(None), "extents.volume"),
    ]
    for volume, field in bad:
        with pytest.raises(InvalidInput) as info:
            svc.put_subscription(new_id(), None, sub_params(volume), USS1)
        assert info.value.field == field
    # The 24 h limit holds on update too.
    with pytest.raises(InvalidInput):
        svc.put_subscription(sub.id, sub.version, sub_params(bad[1][0]), USS1)


def test_query_returns_only_own_unexpired_subscriptions(
    svc: StrategicService, clock: FakeClock
) -> None:
    mine, _, _ = svc.put_subscription(
        new_id(), None, sub_params(vol(duration=timedelta(hours=1))), USS1
    )
    svc.put_subscription(
        new_id(), None, sub_params(vol(duration=timedelta(hours=20)), url="https://uss2"), USS2
    )
    area = Volume4D(vol(size=0.1).outline)
    assert [s.id for s in svc.query_subscriptions(area, USS1)] == [mine.id]
    assert svc.query_subscriptions(vol(lat=20.0), USS1) == []
    clock.advance(hours=2)
    assert svc.query_subscriptions(area, USS1) == []
    with pytest.raises(NotFound):
        svc.get_subscription(mine.id, USS1)
    # Expired subscriptions are not subscribers either.
    _, subscribers = svc.put_operational_intent(
        new_id(), None, oir_params(vol(now=clock.now)), USS2
    )
    assert [s.uss_base_url for s in subscribers] == ["https://uss2"]  # uss2's, still running


def test_subscribers_are_grouped_by_url_and_cover_old_and_new_extent(svc: StrategicService) -> None:
    here = vol(size=0.05)
    there = vol(lat=46.5, size=0.05)
    a1, _, _ = svc.put_subscription(new_id(), None, sub_params(here, url="https://a"), USS1)
    a2, _, _ = svc.put_subscription(new_id(), None, sub_params(there, url="https://a"), USS1)
    b, _, _ = svc.put_subscription(new_id(), None, sub_params(here, url="https://b"), USS2)
    svc.put_subscription(
        new_id(), None, sub_params(here, oi=False, constraints=True, url="https://c"), USS2
    )
    ref, subscribers = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    assert [
        (s.uss_base_url, [x.subscription_id for x in s.subscriptions]) for s in subscribers
    ] == [
        ("https://a", [a1.id]),
        ("https://b", [b.id]),
    ]
    # Moving it away notifies both the old and the new area.
    moved, subscribers = svc.put_operational_intent(
        ref.id, ref.ovn, oir_params(vol(lat=46.5)), USS1
    )
    got = {s.uss_base_url: {x.subscription_id for x in s.subscriptions} for s in subscribers}
    assert got == {"https://a": {a1.id, a2.id}, "https://b": {b.id}}
    # Altitude does not matter for notification; time does.
    _, subscribers = svc.put_operational_intent(
        new_id(), None, oir_params(vol(lo=5000, hi=6000)), USS2
    )
    assert {s.uss_base_url for s in subscribers} == {"https://a", "https://b"}
    _, subscribers = svc.put_operational_intent(
        new_id(), None, oir_params(vol(start=timedelta(hours=30))), USS2
    )
    assert subscribers == []
    _, subscribers = svc.delete_operational_intent(moved.id, moved.ovn, USS1)
    assert [s.uss_base_url for s in subscribers] == ["https://a"]
    assert subscribers[0].subscriptions[0].subscription_id == a2.id


def test_subscription_creation_returns_entities_in_its_area(svc: StrategicService) -> None:
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(), USS1)
    con, _ = svc.put_constraint(new_id(), None, PutConstraint((vol(),), "https://authority"), CM)
    _, oirs, cons = svc.put_subscription(new_id(), None, sub_params(), USS2)
    assert [o.id for o in oirs] == [ref.id] and cons == []
    _, oirs, cons = svc.put_subscription(
        new_id(), None, sub_params(oi=False, constraints=True), USS2
    )
    assert oirs == [] and [c.id for c in cons] == [con.id]
    _, oirs, _ = svc.put_subscription(new_id(), None, sub_params(vol(lat=20)), USS2)
    assert oirs == []


def test_explicit_subscription_must_cover_the_intent(svc: StrategicService) -> None:
    sub, _, _ = svc.put_subscription(new_id(), None, sub_params(vol(size=0.05)), USS1)
    for volume in (vol(lat=46.04, size=0.05), vol(start=timedelta(hours=1))):
        with pytest.raises(InvalidInput) as info:
            svc.put_operational_intent(
                new_id(), None, oir_params(volume, subscription_id=sub.id), USS1
            )
        assert info.value.field == "subscription_id"
    with pytest.raises(InvalidInput):
        svc.put_operational_intent(new_id(), None, oir_params(subscription_id=new_id()), USS1)
    with pytest.raises(PermissionDenied):
        svc.put_operational_intent(new_id(), None, oir_params(subscription_id=sub.id), USS2)
    # Attach, then replace by another explicit subscription, then remove.
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(subscription_id=sub.id), USS1)
    assert ref.subscription_id == sub.id
    assert svc.get_subscription(sub.id, USS1).dependent_operational_intents == (ref.id,)
    other, _, _ = svc.put_subscription(new_id(), None, sub_params(vol(size=0.02)), USS1)
    ref, _ = svc.put_operational_intent(ref.id, ref.ovn, oir_params(subscription_id=other.id), USS1)
    assert ref.subscription_id == other.id
    assert svc.get_subscription(sub.id, USS1).dependent_operational_intents == ()  # explicit: kept
    ref, _ = svc.put_operational_intent(ref.id, ref.ovn, oir_params(), USS1)
    assert ref.subscription_id == "00000000-0000-4000-8000-000000000000"
    assert svc.get_subscription(other.id, USS1).dependent_operational_intents == ()


def test_subscription_with_dependents_keeps_covering_them(svc: StrategicService) -> None:
    sub, _, _ = svc.put_subscription(new_id(), None, sub_params(vol(size=0.05)), USS1)
    ref, _ = svc.put_operational_intent(new_id(), None, oir_params(subscription_id=sub.id), USS1)
    with pytest.raises(InvalidInput) as info:
        svc.put_subscription(sub.id, sub.version, sub_params(vol(lat=47.0)), USS1)
    assert info.value.field == "extents"
    with pytest.raises(InvalidInput):
        svc.put_subscription(
            sub.id, sub.version, sub_params(vol(size=0.05, duration=timedelta(minutes=30))), USS1
        )
    sub2, _, _ = svc.put_subscription(sub.id, sub.version, sub_params(vol(size=0.06)), USS1)
    assert sub2.dependent_operational_intents == (ref.id,)
    with pytest.raises(InvalidInput):
        svc.delete_subscription(sub.id, sub2.version, USS1)


def test_implicit_subscription_lifecycle(svc: StrategicService) -> None:
    ref, subscribers = svc.put_operational_intent(
        new_id(), None, oir_params(new_subscription=_ns()), USS1
    )
    implicit = svc.get_subscription(ref.subscription_id, USS1)
    assert implicit.implicit_subscription and implicit.notify_for_operational_intents
    assert not implicit.notify_for_constraints
    assert implicit.dependent_operational_intents == (ref.id,)
    assert (implicit.time_start, implicit.time_end) == (ref.time_start, ref.time_end)
    # The writer's own implicit subscription is among the subscribers.
    assert [x.subscription_id for s in subscribers for x in s.subscriptions] == [implicit.id]
    # It grows with the intent.
    bigger = vol(size=0.03, duration=timedelta(hours=3))
    ref, _ = svc.put_operational_intent(
        ref.id, ref.ovn, oir_params(bigger, subscription_id=implicit.id), USS1
    )
    grown = svc.get_subscription(implicit.id, USS1)
    assert grown.time_end == bigger.time_end and grown.version != implicit.version
    # Another intent may reuse it; then it survives the first intent's deletion.
    ref2, _ = svc.put_operational_intent(
        new_id(), None, oir_params(vol(lat=46.5), key=(ref.ovn,), subscription_id=implicit.id), USS1
    )
    assert set(svc.get_subscription(implicit.id, USS1).dependent_operational_intents) == {
        ref.id,
        ref2.id,
    }
    svc.delete_operational_intent(ref.id, ref.ovn, USS1)
    assert svc.get_subscription(implicit.id, USS1).dependent_operational_intents == (ref2.id,)
    # Switching the last dependent to a new implicit subscription deletes the old one.
    ref2, _ = svc.put_operational_intent(
        ref2.id, ref2.ovn, oir_params(vol(lat=46.5), new_subscription=_ns()), USS1
    )
    assert ref2.subscription_id != implicit.id
    with pytest.raises(NotFound):
        svc.get_subscription(implicit.id, USS1)
    # Deleting the intent deletes its implicit subscription.
    svc.delete_operational_intent(ref2.id, ref2.ovn, USS1)
    with pytest.raises(NotFound):
        svc.get_subscription(ref2.subscription_id, USS1)


def test_constraints_count_in_the_key_only_for_constraint_subscribers(
    svc: StrategicService,
) -> None:
    con, _ = svc.put_constraint(
        new_id(), None, PutConstraint((vol(lo=0, hi=1000),), "https://authority"), CM
    )
    svc.put_operational_intent(new_id(), None, oir_params(new_subscription=_ns()), USS1)
    # Without notify_for_constraints the constraint is not needed in the key.
    svc.put_operational_intent(
        new_id(), None, oir_params(vol(lo=700, hi=800), new_subscription=_ns()), USS2
    )
    with pytest.raises(AirspaceConflict) as info:
        svc.put_operational_intent(
            new_id(),
            None,
            oir_params(vol(lo=500, hi=600), new_subscription=_ns(constraints=True)),
            USS2,
        )
    assert [c.id for c in info.value.missing_constraints] == [con.id]
    assert info.value.missing_constraints[0].ovn == "Available from USS"
    assert info.value.missing_operational_intents == []
    # The authority itself sees its OVN; with it in the key the write passes.
    assert svc.get_constraint(con.id, CM).ovn is not None
    ovn = svc.get_constraint(con.id, CM).ovn
    ref, _ = svc.put_operational_intent(
        new_id(),
        None,
        oir_params(vol(lo=500, hi=600), key=(ovn,), new_subscription=_ns(constraints=True)),
        USS2,
    )
    assert ref.version == 1
