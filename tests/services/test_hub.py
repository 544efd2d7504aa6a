"""The delivery hub: fan-out per party, bounded queues, slow-consumer policies, closing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sharedsky.services.hub import DeliveryHub, SlowConsumerPolicy, Subscription


def test_items_reach_every_subscription_of_the_parties_named_and_no_other() -> None:
    hub = DeliveryHub()
    a1, a2, b = hub.subscribe("alpha"), hub.subscribe("alpha"), hub.subscribe("bravo")
    c = hub.subscribe("charlie")
    item = {"type": "alert", "alert": {"id": "x"}}
    assert hub.publish(item, ("alpha", "bravo", "nobody")) == 3
    got = [a1.drain(), a2.drain(), b.drain()]
    assert got == [[item]] * 3
    assert all(items[0] is item for items in got)  # the same object: the same content
    assert c.drain() == []


def test_closing_a_subscription_removes_it_from_the_hub() -> None:
    hub = DeliveryHub()
    sub = hub.subscribe("alpha")
    other = hub.subscribe("alpha")
    assert hub.subscriber_count("alpha") == 2
    sub.close()
    sub.close()  # idempotent
    assert hub.subscriber_count("alpha") == 1 and hub.subscriber_count() == 1
    assert hub.publish({"type": "notice"}, ["alpha"]) == 1
    assert sub.drain() == [] and other.drain() == [{"type": "notice"}]
    other.close()
    assert hub.subscriber_count() == 0


def test_drop_oldest_tells_the_consumer_what_it_lost() -> None:
    sub = DeliveryHub().subscribe("alpha", maxlen=2)
    for k in range(5):
        assert sub.push({"k": k})
    assert sub.drain() == [{"type": "lagged", "lost": 3}, {"k": 3}, {"k": 4}]
    assert sub.drain() == []


def test_disconnect_closes_a_slow_consumer_after_what_it_had() -> None:
    hub = DeliveryHub(policy=SlowConsumerPolicy.DISCONNECT)
    sub = hub.subscribe("alpha", maxlen=2)
    assert sub.push({"k": 0}) and sub.push({"k": 1})
    assert not sub.push({"k": 2})  # the queue is full: the subscription is dropped
    assert sub.closed and hub.subscriber_count("alpha") == 0
    assert not sub.push({"k": 3})
    assert sub.drain() == [
        {"k": 0},
        {"k": 1},
        {"type": "dropped", "reason": "slow consumer", "lost": 1},
    ]


def test_a_consumer_on_an_event_loop_is_woken_by_a_producer_thread() -> None:
    hub = DeliveryHub()

    async def consume() -> list[dict[str, int]]:
        sub = hub.subscribe("alpha")
        producer = threading.Thread(
            target=lambda: [hub.publish({"k": k}, ["alpha"]) for k in range(3)]
        )
        producer.start()
        got = [await asyncio.wait_for(sub.get(), 5) for _ in range(3)]
        producer.join()
        sub.close()
        with pytest.raises(StopAsyncIteration):
            await sub.get()
        return got

    assert asyncio.run(consume()) == [{"k": 0}, {"k": 1}, {"k": 2}]


def test_a_subscription_without_a_hub_calls_its_close_callback_once() -> None:
    closed: list[Subscription] = []
    sub = Subscription("alpha", maxlen=1, on_close=closed.append)
    sub.close()
    sub.close()
    assert closed == [sub]
    with pytest.raises(ValueError):
        Subscription("alpha", maxlen=0)
