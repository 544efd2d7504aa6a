"""Strategic coordination use cases: the rules of an ASTM F3548-21 DSS.

:class:`StrategicService` validates requests, applies the F3548 rules and writes through
:mod:`sharedsky.store`. It is composed of one part per entity: operational intents
(:mod:`.intents`), constraints (:mod:`.constraints`), subscriptions (:mod:`.subscriptions`),
USS availability and reports (:mod:`.availability`), over what they share (:mod:`._base`:
the store, the clock, the write retry, the views, OVNs, events and notification indexes).
Every method takes the :class:`~sharedsky.model.Caller` and returns entities in the caller's
view: the OVN of an entity the caller does not manage reads
:data:`~sharedsky.model.NO_OVN_PHRASE`.

**The invariant.** No intent in state Accepted or Activated is created or updated while an
intersecting intent exists whose current OVN the writer did not present in its key (except the
entity itself and Accepted intents of a USS whose availability is Down). Each write of an intent
or a constraint runs as one READ COMMITTED transaction that (1) locks the coarse S2 cells (level
:data:`~sharedsky.geo.LOCK_LEVEL`) under the union of the entity's current and new coverings,
(2) reads and checks, (3) writes and appends its event. Two intents that intersect share a
level-13 cell and hence its coarse parent, so their writers serialise on that advisory lock
(PostgreSQL) or on the database write lock (SQLite), and the second one's check sees the first
one's commit (READ COMMITTED takes a fresh snapshot per statement, after the lock). Because the
area an entity leaves is locked too (deletes included), writes whose areas meet commit in the
order of their event ids, which is what lets the event log be replayed to check the invariant.
Writers in unrelated areas take disjoint locks and run in parallel. Locks are taken in ascending
order, in one statement, before any row lock, so they cannot deadlock among themselves; the rare
deadlocks between row locks (two intents swapping subscriptions) and an entity that moved while
its area was being locked are retried here (:data:`MAX_WRITE_ATTEMPTS`). One variation keeps a
busy area's locks short (PostgreSQL, an Accepted intent without subscriptions): when its locks
are taken, (2) has already happened on a snapshot read without them, and (3) writes only if
every row that read saw is still the same (a fingerprint compared under the locks); otherwise it
writes nothing and the write runs again as above. Either way, the write is checked against the
state under the locks. The rules are decided here; which plan a backend follows for that write
is the store's (:meth:`~sharedsky.store.StrategicTx.write_unsubscribed_oir`).

**A USS marked Down** (USS availability) keeps its Accepted intents out of others' keys, and
may not make an intent Accepted or Activated, nor delete one, until it is available again
(:class:`~sharedsky.errors.PreconditionFailed`, HTTP 412 as utm.yaml lists; the reference DSS
does not implement that refusal).

**notification_index** is time-based, as in the reference DSS's newer mode: the index handed
to a subscriber is the number of milliseconds since the latest UTC midnight at the time of the
change. Telling a subscription about a change therefore writes nothing to it, so subscriptions
are never a hot lock and an area with many writers does not serialise on its subscribers. A
subscription's own ``notification_index`` is the index of its last write.

**OVNs** are 32 random URL-safe characters, new on every write, or ``{id}_{suffix}`` when the
writer requests a suffix (a UUIDv7 within 5 minutes of the server clock). ``version`` of an
intent or constraint starts at 1 and increments on every write; a subscription's version is an
opaque random string, new on every write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sharedsky.services.strategic._base import (
    MAX_WRITE_ATTEMPTS,
    OVN_SUFFIX_WINDOW,
    ServiceBase,
    notification_index,
)
from sharedsky.services.strategic.availability import UssAvailabilityUseCases
from sharedsky.services.strategic.constraints import ConstraintUseCases
from sharedsky.services.strategic.intents import OperationalIntentUseCases
from sharedsky.services.strategic.subscriptions import (
    MAX_SUBSCRIPTION_DURATION,
    SubscriptionUseCases,
)
from sharedsky.store import Store
from sharedsky.units import utcnow

__all__ = [
    "MAX_SUBSCRIPTION_DURATION",
    "MAX_WRITE_ATTEMPTS",
    "OVN_SUFFIX_WINDOW",
    "StrategicService",
    "notification_index",
]


class StrategicService(
    OperationalIntentUseCases,
    ConstraintUseCases,
    SubscriptionUseCases,
    UssAvailabilityUseCases,
    ServiceBase,
):
    """The DSS use cases over one :class:`~sharedsky.store.Store`.

    ``clock`` returns the current UTC time (inject a fixed or fake clock in tests).
    """

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(store, clock)
