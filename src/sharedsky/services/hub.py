"""Per-party delivery: subscriptions with bounded queues and an explicit slow-consumer policy.

:class:`DeliveryHub` fans items out to the subscriptions of the parties they concern. Items are
plain JSON-able dicts with a ``"type"`` (``"alert"``, ``"notice"``...); the hub never looks inside
them, so alerts today and the line's messages later travel the same way. The same item object is
handed to every subscription (so every party involved receives the same content).

Producers call :meth:`DeliveryHub.publish` from any thread; a consumer reads its
:class:`Subscription` with ``async for`` / ``await get()`` on an event loop, or :meth:`drain`
without one. A subscription never grows without bound: it holds at most ``maxlen`` items, and
what happens to a consumer that falls that far behind is its :class:`SlowConsumerPolicy`:

* ``DROP_OLDEST`` (the default): the oldest item goes, and the consumer's next read is one
  ``{"type": "lagged", "lost": n}`` item saying how many it lost;
* ``DISCONNECT``: the subscription is closed; the consumer's next reads return what was queued,
  then one ``{"type": "dropped", "reason": "slow consumer", "lost": n}`` item, then the end.

A subscription closes through the callback it was given (the hub's own bookkeeping), never by
reaching into its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

__all__ = ["DEFAULT_MAXLEN", "DeliveryHub", "SlowConsumerPolicy", "Subscription"]

DEFAULT_MAXLEN = 10_000
"""Items a subscription holds before its slow-consumer policy applies."""

Item = dict[str, Any]


class SlowConsumerPolicy(StrEnum):
    """What a subscription does when its consumer is ``maxlen`` items behind."""

    DROP_OLDEST = "drop_oldest"
    DISCONNECT = "disconnect"


class Subscription:
    """One consumer's queue of items for one party (thread-safe on the producer side)."""

    def __init__(
        self,
        party: str,
        *,
        maxlen: int = DEFAULT_MAXLEN,
        policy: SlowConsumerPolicy = SlowConsumerPolicy.DROP_OLDEST,
        on_close: Callable[[Subscription], None] | None = None,
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.party = party
        self.maxlen = maxlen
        self.policy = SlowConsumerPolicy(policy)
        self._on_close = on_close
        self._items: deque[Item] = deque()
        self._lost = 0
        self._dropped = False  # closed by the DISCONNECT policy: one "dropped" item is owed
        self._lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        with contextlib.suppress(RuntimeError):
            self._bind(asyncio.get_running_loop())

    @property
    def closed(self) -> bool:
        return self._closed

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is None:
            self._event = asyncio.Event()
            self._loop = loop

    def _wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(event.set)

    def push(self, item: Item) -> bool:
        """Queue ``item``; False if the subscription is closed (nothing queued)."""
        disconnect = False
        with self._lock:
            if self._closed:
                return False
            if len(self._items) >= self.maxlen:
                if self.policy is SlowConsumerPolicy.DISCONNECT:
                    self._lost += 1
                    self._dropped = True
                    disconnect = True
                else:
                    self._items.popleft()
                    self._lost += 1
                    self._items.append(item)
            else:
                self._items.append(item)
        if disconnect:
            self.close()
            return False
        self._wake()
        return True

    def _pop(self) -> Item | None:
        with self._lock:
            if self._lost and not self._dropped:
                lost, self._lost = self._lost, 0
                return {"type": "lagged", "lost": lost}
            if self._items:
                return self._items.popleft()
            if self._dropped:
                self._dropped = False
                lost, self._lost = self._lost, 0
                return {"type": "dropped", "reason": "slow consumer", "lost": lost}
            return None

    def drain(self) -> list[Item]:
        """Every item waiting now (non-blocking)."""
        out = []
        while (item := self._pop()) is not None:
            out.append(item)
        return out

    async def get(self) -> Item:
        """The next item (waits); ``StopAsyncIteration`` once closed and empty."""
        self._bind(asyncio.get_running_loop())
        assert self._event is not None
        while True:
            self._event.clear()
            item = self._pop()
            if item is not None:
                return item
            if self._closed:
                raise StopAsyncIteration
            await self._event.wait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Item:
        return await self.get()

    def close(self) -> None:
        """Stop receiving (idempotent); items already queued can still be read."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._on_close is not None:
            self._on_close(self)
        self._wake()


class DeliveryHub:
    """The subscriptions of every party, and fan-out of items to them (thread-safe)."""

    def __init__(
        self,
        *,
        maxlen: int = DEFAULT_MAXLEN,
        policy: SlowConsumerPolicy = SlowConsumerPolicy.DROP_OLDEST,
    ) -> None:
        self.maxlen = maxlen
        self.policy = SlowConsumerPolicy(policy)
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(
        self,
        party: str,
        *,
        maxlen: int | None = None,
        policy: SlowConsumerPolicy | None = None,
    ) -> Subscription:
        """A new subscription to the items of ``party`` (close it when done)."""
        sub = Subscription(
            party,
            maxlen=self.maxlen if maxlen is None else maxlen,
            policy=self.policy if policy is None else policy,
            on_close=self._remove,
        )
        with self._lock:
            self._subs.setdefault(party, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.party)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.party]

    def publish(self, item: Item, parties: Iterable[str]) -> int:
        """Hand ``item`` to every open subscription of each of ``parties``; returns how many
        subscriptions queued it."""
        wanted = set(parties)
        with self._lock:
            targets = [s for p in wanted for s in self._subs.get(p, ())]
        return sum(1 for s in targets if s.push(item))

    def subscriber_count(self, party: str | None = None) -> int:
        """Open subscriptions of ``party`` (of everyone when None)."""
        with self._lock:
            if party is not None:
                return len(self._subs.get(party, ()))
            return sum(len(s) for s in self._subs.values())

    def close(self) -> None:
        """Close every subscription."""
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for s in subs:
            s.close()
