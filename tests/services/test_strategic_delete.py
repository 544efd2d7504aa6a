"""The delete of an operational intent (one read under the area's lock, one write): what it
answers, what it leaves in the record and whom it notifies, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sharedsky.errors import NotFound
from sharedsky.model import NewSubscription, OperationalIntentState
from sharedsky.model.events import EntityType, Operation, RecordedEvent
from sharedsky.model.strategic import SubscriberToNotify, SubscriptionState
from sharedsky.services import StrategicService
from sharedsky.services.strategic import notification_index
from sharedsky.store import Store
from tests.services.conftest import USS1, USS2, FakeClock, new_id, oir_params, sub_params, vol

USS2_URL = "https://uss2.example.com"


def _events(store: Store) -> list[RecordedEvent]:
    with store.read() as tx:
        return tx.events()


def test_a_delete_records_the_intent_as_it_was_and_notifies_only_the_subscribers_concerned(
    svc: StrategicService, store: Store, clock: FakeClock
) -> None:
    # uss2 listens to intents over the area; a constraint-only listener, a listener elsewhere
    # and one whose subscription ends before the delete hear nothing.
    listening = new_id()
    svc.put_subscription(listening, None, sub_params(url=USS2_URL), USS2)
    svc.put_subscription(
        new_id(), None, sub_params(oi=False, constraints=True, url=USS2_URL), USS2
    )
    svc.put_subscription(new_id(), None, sub_params(vol(lat=47.0, size=0.05)), USS2)
    ended = sub_params(vol(size=0.05, duration=timedelta(minutes=20)), url=USS2_URL)
    svc.put_subscription(new_id(), None, ended, USS2)
    entity = new_id()
    created, _ = svc.put_operational_intent(entity, None, oir_params(), USS1)
    created_event = _events(store)[-1]
    clock.advance(minutes=30)

    view, subscribers = svc.delete_operational_intent(entity, created.ovn, USS1)

    assert view == created
    assert subscribers == [
        SubscriberToNotify(USS2_URL, (SubscriptionState(listening, notification_index(clock.now)),))
    ]
    *_, event = _events(store)
    assert event.id > created_event.id
    assert (event.entity_type, event.entity_id, event.operation, event.actor) == (
        EntityType.OPERATIONAL_INTENT_REFERENCE,
        entity,
        Operation.DELETE,
        "uss1",
    )
    assert event.time == clock.now
    # The intent as it was (its covering included), without a key: nothing was checked.
    assert event.payload == {k: v for k, v in created_event.payload.items() if k != "key"}
    assert event.payload["cells"]
    # Gone with its cells: the same id and extent can be created again.
    with pytest.raises(NotFound):
        svc.get_operational_intent(entity, USS1)
    assert svc.query_operational_intents(vol(), USS1) == []
    again, _ = svc.put_operational_intent(entity, None, oir_params(), USS1)
    assert again.version == 1


def test_an_implicit_subscription_no_other_intent_uses_goes_first_and_hears_nothing(
    svc: StrategicService, store: Store
) -> None:
    listening = new_id()
    svc.put_subscription(listening, None, sub_params(url=USS2_URL), USS2)
    entity = new_id()
    params = oir_params(
        state=OperationalIntentState.ACCEPTED,
        new_subscription=NewSubscription("https://uss1.example.com"),
    )
    created, _ = svc.put_operational_intent(entity, None, params, USS1)
    implicit = created.subscription_id
    before = len(_events(store))

    _, subscribers = svc.delete_operational_intent(entity, created.ovn, USS1)

    assert [s.uss_base_url for s in subscribers] == [USS2_URL]
    assert [s.subscription_id for s in subscribers[0].subscriptions] == [listening]
    sub_event, oir_event = _events(store)[before:]
    assert (sub_event.entity_type, sub_event.entity_id, sub_event.operation) == (
        EntityType.SUBSCRIPTION,
        implicit,
        Operation.DELETE,
    )
    assert sub_event.payload["implicit"] is True
    assert (oir_event.entity_type, oir_event.entity_id, oir_event.operation) == (
        EntityType.OPERATIONAL_INTENT_REFERENCE,
        entity,
        Operation.DELETE,
    )
    assert oir_event.payload["subscription_id"] == implicit
    assert sub_event.id < oir_event.id
    with pytest.raises(NotFound):
        svc.get_subscription(implicit, USS1)


def test_an_implicit_subscription_another_intent_uses_stays_and_is_notified(
    svc: StrategicService, store: Store
) -> None:
    first, second = new_id(), new_id()
    params = oir_params(
        state=OperationalIntentState.ACCEPTED,
        new_subscription=NewSubscription("https://uss1.example.com"),
    )
    a, _ = svc.put_operational_intent(first, None, params, USS1)
    implicit = a.subscription_id
    shared = oir_params(
        vol(lat=46.005),
        key=(a.ovn,),
        state=OperationalIntentState.ACCEPTED,
        subscription_id=implicit,
    )
    svc.put_operational_intent(second, None, shared, USS1)
    before = len(_events(store))

    _, subscribers = svc.delete_operational_intent(first, a.ovn, USS1)

    assert [[s.subscription_id for s in n.subscriptions] for n in subscribers] == [[implicit]]
    (event,) = _events(store)[before:]
    assert (event.entity_type, event.entity_id) == (
        EntityType.OPERATIONAL_INTENT_REFERENCE,
        first,
    )
    kept = svc.get_subscription(implicit, USS1)
    assert kept.dependent_operational_intents == (second,)
