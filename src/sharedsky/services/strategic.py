"""Strategic coordination use cases: the rules of an ASTM F3548-21 DSS.

:class:`StrategicService` validates requests, applies the F3548 rules and writes through
:mod:`sharedsky.store`. Every method takes the :class:`~sharedsky.model.Caller` and returns
entities in the caller's view: the OVN of an entity the caller does not manage reads
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

import random
import secrets
import time as _time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from uas_standards.astm.f3548.v21 import constants as f3548

from sharedsky.errors import (
    AirspaceConflict,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StorageError,
    reject_nul,
)
from sharedsky.geo import (
    MAX_AREA_KM2,
    MAX_CONSTRAINT_AREA_KM2,
    cover_volume,
    cover_volumes,
    parent_cells,
)
from sharedsky.model.events import EntityType, Event, Operation
from sharedsky.model.strategic import (
    NO_OVN_PHRASE,
    NULL_SUBSCRIPTION_ID,
    SCOPE_CONFORMANCE_MONITORING_SA,
    Caller,
    ConstraintReference,
    OperationalIntentReference,
    OperationalIntentState,
    PutConstraint,
    PutOperationalIntent,
    PutSubscription,
    SubscriberToNotify,
    Subscription,
    SubscriptionState,
    UssAvailability,
    UssAvailabilityState,
    Volume4D,
)
from sharedsky.store import (
    AvailabilityRecord,
    ConstraintRecord,
    OirRead,
    OirRecord,
    OirWrite,
    Store,
    StrategicTx,
    SubscriptionRecord,
    TransientStorageError,
)
from sharedsky.units import utcnow

__all__ = [
    "MAX_SUBSCRIPTION_DURATION",
    "MAX_WRITE_ATTEMPTS",
    "OVN_SUFFIX_WINDOW",
    "StrategicService",
    "notification_index",
]

MAX_SUBSCRIPTION_DURATION = timedelta(hours=f3548.DSSMaxSubscriptionDurationHours)
"""Longest time span of a subscription (F3548 ``DSSMaxSubscriptionDurationHours``)."""

SUBSCRIPTION_START_TOLERANCE = timedelta(minutes=5)
"""How far in the past a subscription may start."""

OVN_SUFFIX_WINDOW = timedelta(minutes=5)
"""How far the time of a requested UUIDv7 OVN suffix may be from the server clock."""

MAX_WRITE_ATTEMPTS = 12

_ACTIVE_STATES = frozenset({OperationalIntentState.ACCEPTED, OperationalIntentState.ACTIVATED})
_OFF_NOMINAL_STATES = frozenset(
    {OperationalIntentState.NONCONFORMING, OperationalIntentState.CONTINGENT}
)

T = TypeVar("T")


def notification_index(at: datetime) -> int:
    """Time-based notification index: milliseconds since the latest UTC midnight."""
    at = at.astimezone(UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return (at - midnight) // timedelta(milliseconds=1)


def _new_ovn() -> str:
    return secrets.token_urlsafe(24)


def _text(value: object, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput("must be a non-empty string", field)
    return reject_nul(value, field)


def _availability(value: str | None) -> UssAvailabilityState:
    return UssAvailabilityState(value) if value else UssAvailabilityState.UNKNOWN


class StrategicService:
    """The DSS use cases over one :class:`~sharedsky.store.Store`.

    ``clock`` returns the current UTC time (inject a fixed or fake clock in tests).
    """

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    # -- plumbing --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _write(self, work: Callable[[StrategicTx], T]) -> T:
        """Run ``work`` in a write transaction, retrying clashes with concurrent writers."""
        for attempt in range(MAX_WRITE_ATTEMPTS):
            try:
                with self._store.write() as tx:
                    return work(tx)
            except TransientStorageError:
                if attempt == MAX_WRITE_ATTEMPTS - 1:
                    raise
                _time.sleep(random.uniform(0.0, 0.005 * (2 ** min(attempt, 5))))
        raise StorageError("unreachable")  # pragma: no cover

    def _oir_view(
        self, rec: OirRecord, caller: Caller, availability: dict[str, str]
    ) -> OperationalIntentReference:
        return OperationalIntentReference(
            id=rec.id,
            manager=rec.manager,
            uss_availability=_availability(availability.get(rec.manager)),
            version=rec.version,
            state=OperationalIntentState(rec.state),
            ovn=rec.ovn if rec.manager == caller.manager else NO_OVN_PHRASE,
            time_start=rec.time_start,
            time_end=rec.time_end,
            uss_base_url=rec.uss_base_url,
            subscription_id=rec.subscription_id or NULL_SUBSCRIPTION_ID,
        )

    def _constraint_view(
        self, rec: ConstraintRecord, caller: Caller, availability: dict[str, str]
    ) -> ConstraintReference:
        return ConstraintReference(
            id=rec.id,
            manager=rec.manager,
            uss_availability=_availability(availability.get(rec.manager)),
            version=rec.version,
            ovn=rec.ovn if rec.manager == caller.manager else NO_OVN_PHRASE,
            time_start=rec.time_start,
            time_end=rec.time_end,
            uss_base_url=rec.uss_base_url,
        )

    def _oir_views(
        self, tx: StrategicTx, recs: Iterable[OirRecord], caller: Caller
    ) -> list[OperationalIntentReference]:
        recs = list(recs)
        avail = tx.availabilities(r.manager for r in recs)
        return [self._oir_view(r, caller, avail) for r in recs]

    def _constraint_views(
        self, tx: StrategicTx, recs: Iterable[ConstraintRecord], caller: Caller
    ) -> list[ConstraintReference]:
        recs = list(recs)
        avail = tx.availabilities(r.manager for r in recs)
        return [self._constraint_view(r, caller, avail) for r in recs]

    @staticmethod
    def _subscription_view(rec: SubscriptionRecord, dependents: Iterable[str]) -> Subscription:
        return Subscription(
            id=rec.id,
            version=rec.version,
            notification_index=rec.notification_index,
            time_start=rec.time_start,
            time_end=rec.time_end,
            uss_base_url=rec.uss_base_url,
            notify_for_operational_intents=rec.notify_for_operational_intents,
            notify_for_constraints=rec.notify_for_constraints,
            implicit_subscription=rec.implicit,
            dependent_operational_intents=tuple(sorted(dependents)),
        )

    def _subscribers(
        self,
        tx: StrategicTx,
        cells: frozenset[int],
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        for_constraints: bool,
    ) -> list[SubscriberToNotify]:
        subs = tx.find_subscriptions(
            cells,
            start,
            end,
            notify_for_operational_intents=None if for_constraints else True,
            notify_for_constraints=True if for_constraints else None,
            not_ended_before=now,
        )
        return _group_subscribers([(s.id, s.uss_base_url) for s in subs], now)

    def _area(
        self, area: Volume4D, now: datetime, field: str = "area_of_interest"
    ) -> tuple[frozenset[int], float | None, float | None, datetime, datetime | None]:
        cells, lo, hi, start, end = cover_volume(
            area, field, max_area_km2=MAX_AREA_KM2, require_all=False
        )
        # A search with no start looks from now on: intents that ended are of no interest.
        if start is None:
            start = now if end is None or end >= now else end
        return cells, lo, hi, start, end

    def _requested_ovn(self, entity_id: str, suffix: str | None, now: datetime) -> str:
        if suffix is None:
            return _new_ovn()
        field = "requested_ovn_suffix"
        try:
            parsed = uuid.UUID(_text(suffix, field))
        except ValueError as exc:
            raise InvalidInput("must be a UUID", field) from exc
        if parsed.version != 7 or str(parsed) != suffix.lower():
            raise InvalidInput("must be a UUIDv7", field)
        stamp = datetime.fromtimestamp((parsed.int >> 80) / 1000.0, tz=UTC)
        if abs(stamp - now) > OVN_SUFFIX_WINDOW:
            raise InvalidInput(
                f"its time {stamp.isoformat()} is more than 5 minutes from the server clock", field
            )
        return f"{entity_id}_{suffix}"

    # -- operational intents ---------------------------------------------------------------

    def query_operational_intents(
        self, area: Volume4D, caller: Caller
    ) -> list[OperationalIntentReference]:
        """Intents intersecting ``area`` (cells, altitude and time; missing bounds are open)."""
        now = self._now()
        cells, lo, hi, start, end = self._area(area, now)
        with self._store.read_one_statement() as tx:
            found = tx.find_oirs_with_availability(cells, lo, hi, start, end)
        avail = {o.manager: a for o, a in found if a is not None}
        return [self._oir_view(o, caller, avail) for o, _a in found]

    def get_operational_intent(self, entity_id: str, caller: Caller) -> OperationalIntentReference:
        with self._store.read() as tx:
            rec = tx.get_oir(entity_id)
            if rec is None:
                raise NotFound(f"operational intent {entity_id} not found")
            return self._oir_views(tx, [rec], caller)[0]

    def put_operational_intent(
        self, entity_id: str, ovn: str | None, params: PutOperationalIntent, caller: Caller
    ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
        """Create (``ovn`` None) or update an intent; see the module docstring for the rules."""
        now = self._now()
        _text(entity_id, "entityid")
        try:
            state = OperationalIntentState(params.state)
        except ValueError as exc:
            raise InvalidInput(f"unknown state {params.state!r}", "state") from exc
        if state in _OFF_NOMINAL_STATES and SCOPE_CONFORMANCE_MONITORING_SA not in caller.scopes:
            raise PermissionDenied(
                f"state {state} needs the {SCOPE_CONFORMANCE_MONITORING_SA} scope"
            )
        if ovn is None and state != OperationalIntentState.ACCEPTED:
            raise InvalidInput("an operational intent must be created in state Accepted", "state")
        uss_base_url = _text(params.uss_base_url, "uss_base_url")
        key = frozenset(
            _text(k, f"key[{i}]", required=False) for i, k in enumerate(params.key or ())
        )
        sub_id = params.subscription_id
        if sub_id == NULL_SUBSCRIPTION_ID:
            sub_id = None
        if sub_id is not None:
            _text(sub_id, "subscription_id")
        if sub_id is not None and params.new_subscription is not None:
            raise InvalidInput(
                "give either subscription_id or new_subscription, not both", "subscription_id"
            )
        if params.new_subscription is not None:
            _text(params.new_subscription.uss_base_url, "new_subscription.uss_base_url")
        if state != OperationalIntentState.ACCEPTED and (
            sub_id is None and params.new_subscription is None
        ):
            raise InvalidInput(
                f"state {state} needs subscription_id or new_subscription", "subscription_id"
            )
        cells, lo, hi, start, end = cover_volumes(
            params.extents, "extents", max_area_km2=MAX_AREA_KM2, not_before=now
        )
        assert lo is not None and hi is not None and start is not None and end is not None
        new_ovn = self._requested_ovn(entity_id, params.requested_ovn_suffix, now)

        check_key = state in _ACTIVE_STATES
        # Cells the intent covered when an earlier attempt found it elsewhere (see below).
        also_lock: set[int] = set()

        def check_entity(old: OirRecord | None) -> None:
            if ovn is None:
                if old is not None:
                    raise Conflict(f"operational intent {entity_id} already exists")
            else:
                if old is None:
                    raise InvalidInput(f"operational intent {entity_id} does not exist", "entityid")
                if old.manager != caller.manager:
                    raise PermissionDenied(
                        f"operational intent {entity_id} is managed by another USS"
                    )
                if old.ovn != ovn:
                    raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
                if new_ovn == old.ovn:
                    raise InvalidInput(
                        "the requested OVN suffix was already used", "requested_ovn_suffix"
                    )

        def check_available(my_av: str | None) -> None:
            if my_av == UssAvailabilityState.DOWN:
                raise PreconditionFailed(
                    f"{caller.manager} is marked Down in the DSS: its operational intents "
                    f"cannot become {state} until it declares itself available"
                )

        def record(old: OirRecord | None, subscription_id: str | None) -> OirRecord:
            return OirRecord(
                id=entity_id,
                manager=caller.manager,
                version=1 if old is None else old.version + 1,
                state=state.value,
                ovn=new_ovn,
                uss_base_url=uss_base_url,
                subscription_id=subscription_id,
                altitude_lower_m=lo,
                altitude_upper_m=hi,
                time_start=start,
                time_end=end,
                updated=now,
                cells=cells,
            )

        def notification(
            old: OirRecord | None,
        ) -> tuple[frozenset[int], datetime, datetime, datetime]:
            """Where and when subscribers hear of the write: old and new extents."""
            if old is None:
                return cells, start, end, now
            return cells | old.cells, min(start, old.time_start), max(end, old.time_end), now

        def refuse_missing(
            tx: StrategicTx,
            found_av: list[tuple[OirRecord, str | None]],
            my_av: str | None,
            found_c: list[ConstraintRecord],
        ) -> dict[str, str]:
            """Raise AirspaceConflict if the key misses a current OVN; else the availability
            of the managers seen."""
            avail = {o.manager: a for o, a in found_av if a is not None}
            if my_av is not None:
                avail[caller.manager] = my_av
            missing = [
                o
                for o, a in found_av
                if o.ovn not in key
                and not (
                    o.state == OperationalIntentState.ACCEPTED and a == UssAvailabilityState.DOWN
                )
            ]
            missing_c = [c for c in found_c if c.ovn not in key]
            if missing or missing_c:
                raise AirspaceConflict(
                    "the key misses the current OVN of "
                    f"{len(missing)} operational intent(s) and "
                    f"{len(missing_c)} constraint(s)",
                    missing_operational_intents=[self._oir_view(o, caller, avail) for o in missing],
                    missing_constraints=self._constraint_views(tx, missing_c, caller),
                )
            return avail

        def work(
            tx: StrategicTx,
        ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
            # 1. Lock the area first (the new covering, plus where the intent was last seen).
            # 2. One read under the lock: the intent, the intersecting intents, availability
            #    (on PostgreSQL, lock and read in one round trip).
            area = cells | also_lock
            locked = set(parent_cells(area))
            old, found_av, my_av = tx.oir_write_context(
                entity_id,
                caller.manager,
                cells if check_key else None,
                lo,
                hi,
                start,
                end,
                lock=area,
            )
            if old is not None and not old.cells <= cells:
                # The intent is moving: its current area must be locked too. Waiting for those
                # locks now (out of ascending order) could deadlock, so take them only if free;
                # else retry with them in the first, ordered lock.
                also_lock.update(old.cells)
                more = set(parent_cells(old.cells)) - locked
                if more:
                    if not tx.try_lock_more(more):
                        raise TransientStorageError(f"{entity_id} is busy in the area it leaves")
                    again = tx.get_oir(entity_id, with_cells=True)
                    if again is None or again.version != old.version:
                        raise TransientStorageError(f"{entity_id} changed while being locked")
            check_entity(old)
            if check_key:
                check_available(my_av)

            # Subscription to attach.
            attached: SubscriptionRecord | None = None
            if sub_id is not None:
                sub = tx.get_subscription(sub_id, for_update=True, with_cells=True)
                if sub is None or sub.time_end < now:
                    raise InvalidInput(f"subscription {sub_id} does not exist", "subscription_id")
                if sub.manager != caller.manager:
                    raise PermissionDenied(f"subscription {sub_id} is managed by another USS")
                if sub.implicit:
                    grown = _grow(sub, cells, start, end, now)
                    if grown is not sub:
                        tx.save_subscription(grown, sub)
                        sub = grown
                elif not (cells <= sub.cells and sub.time_start <= start and end <= sub.time_end):
                    raise InvalidInput(
                        f"subscription {sub_id} does not cover the operational intent",
                        "subscription_id",
                    )
                attached = sub
            elif params.new_subscription is not None:
                attached = SubscriptionRecord(
                    id=str(uuid.uuid4()),
                    manager=caller.manager,
                    version=secrets.token_hex(8),
                    notification_index=notification_index(now),
                    uss_base_url=params.new_subscription.uss_base_url,
                    notify_for_operational_intents=True,
                    notify_for_constraints=bool(params.new_subscription.notify_for_constraints),
                    implicit=True,
                    altitude_lower_m=lo,
                    altitude_upper_m=hi,
                    time_start=start,
                    time_end=end,
                    updated=now,
                    cells=cells,
                )
                tx.save_subscription(attached, None)
                _event(tx, now, caller, Operation.CREATE, attached)

            # The key check, on what was read under the lock.
            avail = {o.manager: a for o, a in found_av if a is not None}
            if my_av is not None:
                avail[caller.manager] = my_av
            if check_key:
                found_c: list[ConstraintRecord] = []
                if attached is not None and attached.notify_for_constraints:
                    found_c = tx.find_constraints(cells, lo, hi, start, end)
                avail = refuse_missing(tx, found_av, my_av, found_c)

            rec = record(old, attached.id if attached else None)
            notify = notification(old)
            notify_cells, n_start, n_end, _ = notify
            operation = Operation.CREATE if old is None else Operation.UPDATE
            left = old.subscription_id if old is not None else None
            if left and left != rec.subscription_id:
                # Rare: the intent leaves a subscription, which may go; step by step so that
                # the event order and the notified subscriptions stay exact.
                tx.save_oir(rec, old)
                _drop_implicit_if_unused(tx, left, now, caller)
                _event(tx, now, caller, operation, rec, key=key)
                subscribers = self._subscribers(
                    tx, notify_cells, n_start, n_end, now, for_constraints=False
                )
            else:
                event = _write_event(now, caller, operation, rec, key=key)
                rows = tx.write_oir(OirWrite(rec, old, event, notify), commit=True)
                subscribers = _group_subscribers(rows, now)
            return self._oir_view(rec, caller, avail), subscribers

        def short_write() -> tuple[OperationalIntentReference, list[SubscriberToNotify]] | None:
            """An Accepted intent without subscriptions (the planning loop's usual write),
            decided here and written as the store's plan for it goes
            (:meth:`~sharedsky.store.StrategicTx.write_unsubscribed_oir`). On PostgreSQL the
            area's locks are tried without waiting, in the round trip of the read; busy, the
            write is decided on a snapshot taken without them and then, in one round trip,
            made under them only if nothing read has changed, so a busy area's locks are held
            for the database's own work only, not for a round trip and the decision too. A
            refusal decided on the snapshot was the state of the DSS while the request was
            being answered. None if the intent's case is not this one or the snapshot has
            aged: ``work`` decides again."""
            with self._store.write() as tx:

                def decide(
                    seen: OirRead,
                ) -> tuple[OirWrite, OperationalIntentReference] | None:
                    old, found_av, my_av = seen
                    if old is not None and (
                        old.subscription_id is not None or not old.cells <= cells
                    ):
                        return None  # leaves a subscription, or moves: ``work``
                    check_entity(old)
                    check_available(my_av)
                    avail = refuse_missing(tx, found_av, my_av, [])
                    rec = record(old, None)
                    operation = Operation.CREATE if old is None else Operation.UPDATE
                    event = _write_event(now, caller, operation, rec, key=key)
                    write = OirWrite(rec, old, event, notification(old))
                    return write, self._oir_view(rec, caller, avail)

                done = tx.write_unsubscribed_oir(
                    entity_id, caller.manager, cells, lo, hi, start, end, decide
                )
            if done is None:
                return None
            view, rows = done
            return view, _group_subscribers(rows, now)

        if (
            state == OperationalIntentState.ACCEPTED
            and sub_id is None
            and params.new_subscription is None
        ):
            try:
                done = short_write()
            except TransientStorageError:
                done = None  # e.g. a create of the same id that won the race: ``work`` retries
            if done is not None:
                return done
        return self._write(work)

    def delete_operational_intent(
        self, entity_id: str, ovn: str, caller: Caller
    ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
        """Delete an intent (manager only, current OVN); its unused implicit subscription goes."""
        now = self._now()

        def work(
            tx: StrategicTx,
        ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
            old = _lock_and_get(tx, tx.get_oir, entity_id, frozenset())
            if old is None:
                raise NotFound(f"operational intent {entity_id} not found")
            if old.manager != caller.manager:
                raise PermissionDenied(f"operational intent {entity_id} is managed by another USS")
            if old.ovn != ovn:
                raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            mine = tx.get_availability(caller.manager)
            if mine is not None and mine.availability == UssAvailabilityState.DOWN:
                raise PreconditionFailed(
                    f"{caller.manager} is marked Down in the DSS: it cannot delete operational "
                    "intents until it declares itself available"
                )
            view = self._oir_views(tx, [old], caller)[0]
            tx.delete_oir(entity_id)
            if old.subscription_id:
                _drop_implicit_if_unused(tx, old.subscription_id, now, caller)
            _event(tx, now, caller, Operation.DELETE, old)
            subscribers = self._subscribers(
                tx, old.cells, old.time_start, old.time_end, now, for_constraints=False
            )
            return view, subscribers

        return self._write(work)

    # -- constraints -----------------------------------------------------------------------

    def query_constraints(self, area: Volume4D, caller: Caller) -> list[ConstraintReference]:
        now = self._now()
        cells, lo, hi, start, end = self._area(area, now)
        with self._store.read() as tx:
            return self._constraint_views(
                tx, tx.find_constraints(cells, lo, hi, start, end), caller
            )

    def get_constraint(self, entity_id: str, caller: Caller) -> ConstraintReference:
        with self._store.read() as tx:
            rec = tx.get_constraint(entity_id)
            if rec is None:
                raise NotFound(f"constraint {entity_id} not found")
            return self._constraint_views(tx, [rec], caller)[0]

    def put_constraint(
        self, entity_id: str, ovn: str | None, params: PutConstraint, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        """Create (``ovn`` None) or update a constraint (manager only, current OVN)."""
        now = self._now()
        _text(entity_id, "entityid")
        uss_base_url = _text(params.uss_base_url, "uss_base_url")
        cells, lo, hi, start, end = cover_volumes(
            params.extents, "extents", max_area_km2=MAX_CONSTRAINT_AREA_KM2, not_before=now
        )
        assert lo is not None and hi is not None and start is not None and end is not None

        def work(tx: StrategicTx) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
            old = _lock_and_get(tx, tx.get_constraint, entity_id, cells, create=ovn is None)
            if ovn is None:
                if old is not None:
                    raise Conflict(f"constraint {entity_id} already exists")
            else:
                if old is None:
                    raise InvalidInput(f"constraint {entity_id} does not exist", "entityid")
                if old.manager != caller.manager:
                    raise PermissionDenied(f"constraint {entity_id} is managed by another USS")
                if old.ovn != ovn:
                    raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            rec = ConstraintRecord(
                id=entity_id,
                manager=caller.manager,
                version=1 if old is None else old.version + 1,
                ovn=_new_ovn(),
                uss_base_url=uss_base_url,
                altitude_lower_m=lo,
                altitude_upper_m=hi,
                time_start=start,
                time_end=end,
                updated=now,
                cells=cells,
            )
            tx.save_constraint(rec, old)
            _event(tx, now, caller, Operation.CREATE if old is None else Operation.UPDATE, rec)
            notify_cells = cells | (old.cells if old else frozenset())
            n_start = min(start, old.time_start) if old else start
            n_end = max(end, old.time_end) if old else end
            subscribers = self._subscribers(
                tx, notify_cells, n_start, n_end, now, for_constraints=True
            )
            return self._constraint_views(tx, [rec], caller)[0], subscribers

        return self._write(work)

    def delete_constraint(
        self, entity_id: str, ovn: str, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        now = self._now()

        def work(tx: StrategicTx) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
            old = _lock_and_get(tx, tx.get_constraint, entity_id, frozenset())
            if old is None:
                raise NotFound(f"constraint {entity_id} not found")
            if old.manager != caller.manager:
                raise PermissionDenied(f"constraint {entity_id} is managed by another USS")
            if old.ovn != ovn:
                raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            view = self._constraint_views(tx, [old], caller)[0]
            tx.delete_constraint(entity_id)
            _event(tx, now, caller, Operation.DELETE, old)
            subscribers = self._subscribers(
                tx, old.cells, old.time_start, old.time_end, now, for_constraints=True
            )
            return view, subscribers

        return self._write(work)

    # -- subscriptions ---------------------------------------------------------------------

    def query_subscriptions(self, area: Volume4D, caller: Caller) -> list[Subscription]:
        """The caller's own subscriptions intersecting ``area`` (cells and time), not expired."""
        now = self._now()
        cells, _lo, _hi, start, end = self._area(area, now)
        with self._store.read() as tx:
            subs = tx.find_subscriptions(
                cells, start, end, manager=caller.manager, not_ended_before=now
            )
            return [self._subscription_view(s, tx.oir_ids_of_subscription(s.id)) for s in subs]

    def get_subscription(self, subscription_id: str, caller: Caller) -> Subscription:
        now = self._now()
        with self._store.read() as tx:
            sub = tx.get_subscription(subscription_id)
            if sub is None or sub.time_end < now:
                raise NotFound(f"subscription {subscription_id} not found")
            if sub.manager != caller.manager:
                raise PermissionDenied(f"subscription {subscription_id} is managed by another USS")
            return self._subscription_view(sub, tx.oir_ids_of_subscription(subscription_id))

    def put_subscription(
        self, subscription_id: str, version: str | None, params: PutSubscription, caller: Caller
    ) -> tuple[Subscription, list[OperationalIntentReference], list[ConstraintReference]]:
        """Create (``version`` None) or update a subscription.

        Returns the subscription and the intents (if ``notify_for_operational_intents``) and
        constraints (if ``notify_for_constraints``) already in its area.
        """
        now = self._now()
        _text(subscription_id, "subscriptionid")
        uss_base_url = _text(params.uss_base_url, "uss_base_url")
        if not (params.notify_for_operational_intents or params.notify_for_constraints):
            raise InvalidInput(
                "at least one of notify_for_operational_intents and notify_for_constraints "
                "must be true",
                "notify_for_operational_intents",
            )
        cells, lo, hi, start, end = cover_volume(
            params.extents, "extents", max_area_km2=MAX_AREA_KM2, require_all=False
        )
        if start is None:
            start = now
        elif start < now - SUBSCRIPTION_START_TOLERANCE:
            raise InvalidInput("may be at most 5 minutes in the past", "extents.time_start")
        if end is None:
            end = start + MAX_SUBSCRIPTION_DURATION
        if end <= start:
            raise InvalidInput("time_end must be after time_start", "extents.time_end")
        if end - start > MAX_SUBSCRIPTION_DURATION:
            raise InvalidInput(
                f"a subscription may last at most {MAX_SUBSCRIPTION_DURATION}", "extents.time_end"
            )

        def work(
            tx: StrategicTx,
        ) -> tuple[Subscription, list[OperationalIntentReference], list[ConstraintReference]]:
            old = tx.get_subscription(subscription_id, for_update=True, with_cells=True)
            if old is not None and old.time_end < now and not tx.oir_ids_of_subscription(old.id):
                # An expired subscription is gone for every purpose; its id may be reused.
                tx.delete_subscription(old.id)
                old = None
            if version is None:
                if old is not None:
                    raise Conflict(f"subscription {subscription_id} already exists")
                deps: list[OirRecord] = []
            else:
                if old is None:
                    raise Conflict(f"subscription {subscription_id} does not exist")
                if old.manager != caller.manager:
                    raise PermissionDenied(
                        f"subscription {subscription_id} is managed by another USS"
                    )
                if old.version != version:
                    raise Conflict(f"version {version} is not the current version")
                deps = tx.oirs_of_subscription(subscription_id)
                for o in deps:
                    if not (o.cells <= cells and start <= o.time_start and o.time_end <= end):
                        raise InvalidInput(
                            f"the subscription must still cover operational intent {o.id}",
                            "extents",
                        )
            rec = SubscriptionRecord(
                id=subscription_id,
                manager=caller.manager,
                version=_new_version(old.version if old else None),
                notification_index=notification_index(now),
                uss_base_url=uss_base_url,
                notify_for_operational_intents=bool(params.notify_for_operational_intents),
                notify_for_constraints=bool(params.notify_for_constraints),
                implicit=old.implicit if old else False,
                altitude_lower_m=lo,
                altitude_upper_m=hi,
                time_start=start,
                time_end=end,
                updated=now,
                cells=cells,
            )
            tx.save_subscription(rec, old)
            _event(tx, now, caller, Operation.CREATE if old is None else Operation.UPDATE, rec)
            oirs: list[OperationalIntentReference] = []
            cons: list[ConstraintReference] = []
            if rec.notify_for_operational_intents:
                oirs = self._oir_views(tx, tx.find_oirs(cells, lo, hi, start, end), caller)
            if rec.notify_for_constraints:
                cons = self._constraint_views(
                    tx, tx.find_constraints(cells, lo, hi, start, end), caller
                )
            return self._subscription_view(rec, (o.id for o in deps)), oirs, cons

        return self._write(work)

    def delete_subscription(
        self, subscription_id: str, version: str, caller: Caller
    ) -> Subscription:
        """Delete a subscription (manager only, current version, no dependent intents)."""
        now = self._now()

        def work(tx: StrategicTx) -> Subscription:
            old = tx.get_subscription(subscription_id, for_update=True, with_cells=True)
            if old is None or old.time_end < now:
                raise NotFound(f"subscription {subscription_id} not found")
            if old.manager != caller.manager:
                raise PermissionDenied(f"subscription {subscription_id} is managed by another USS")
            if old.version != version:
                raise Conflict(f"version {version} is not the current version")
            deps = tx.oir_ids_of_subscription(subscription_id)
            if deps:
                raise InvalidInput(
                    f"operational intents depend on this subscription: {', '.join(deps)}",
                    "subscriptionid",
                )
            tx.delete_subscription(subscription_id)
            _event(tx, now, caller, Operation.DELETE, old)
            return self._subscription_view(old, ())

        return self._write(work)

    # -- USS availability ------------------------------------------------------------------

    def get_uss_availability(self, uss_id: str, caller: Caller) -> UssAvailability:
        _text(uss_id, "uss_id")
        with self._store.read() as tx:
            rec = tx.get_availability(uss_id)
        if rec is None:
            return UssAvailability(uss_id, UssAvailabilityState.UNKNOWN, "")
        return UssAvailability(uss_id, UssAvailabilityState(rec.availability), rec.version)

    def set_uss_availability(
        self, uss_id: str, old_version: str, availability: UssAvailabilityState, caller: Caller
    ) -> UssAvailability:
        """Set a USS's availability; ``old_version`` must be the current version (``""`` if
        never set)."""
        now = self._now()
        _text(uss_id, "uss_id")
        try:
            state = UssAvailabilityState(availability)
        except ValueError as exc:
            raise InvalidInput(f"unknown availability {availability!r}", "availability") from exc
        if not isinstance(old_version, str):
            raise InvalidInput("must be a string", "old_version")

        def work(tx: StrategicTx) -> UssAvailability:
            old = tx.get_availability(uss_id, for_update=True)
            current = old.version if old else ""
            if old_version != current:
                raise Conflict(f"old_version {old_version!r} is not the current version")
            rec = AvailabilityRecord(uss_id, state.value, _new_version(current), now)
            tx.save_availability(rec, old)
            tx.append_event(
                Event(
                    EntityType.USS_AVAILABILITY,
                    uss_id,
                    Operation.SET,
                    caller.manager,
                    {"availability": state.value, "version": rec.version},
                    now,
                )
            )
            return UssAvailability(uss_id, state, rec.version)

        return self._write(work)

    # -- reports ---------------------------------------------------------------------------

    def make_report(self, report: dict[str, Any], caller: Caller) -> str:
        """Store a report as given and return its new ``report_id``."""
        if not isinstance(report, dict):
            raise InvalidInput("must be an object", "report")
        now = self._now()
        report_id = str(uuid.uuid4())

        def work(tx: StrategicTx) -> str:
            tx.add_report(report_id, caller.manager, now, report)
            tx.append_event(
                Event(EntityType.REPORT, report_id, Operation.CREATE, caller.manager, {}, now)
            )
            return report_id

        return self._write(work)


R = TypeVar("R", OirRecord, ConstraintRecord)


def _lock_and_get(
    tx: StrategicTx,
    get: Callable[..., R | None],
    entity_id: str,
    cells: frozenset[int],
    *,
    create: bool = False,
) -> R | None:
    """Lock the area of an entity's write (its new ``cells`` and its current covering) and
    return the entity, row-locked, with its cells.

    The current covering is read before the lock, so the entity may move in between; then the
    transaction is retried (the locks taken would not cover the area it left). A ``create``
    expects no entity: if one exists the caller refuses the write, which needs no lock on it.
    """
    if create:
        tx.lock_area(cells)
        return get(entity_id, for_update=True, with_cells=True)
    before = get(entity_id, with_cells=True)
    tx.lock_area(cells | (before.cells if before is not None else frozenset()))
    old = get(entity_id, for_update=True, with_cells=True)
    if (old is None) != (before is None) or (
        old is not None and before is not None and old.version != before.version
    ):
        raise TransientStorageError(f"{entity_id} changed while its area was being locked")
    return old


def _new_version(previous: str | None) -> str:
    while True:
        candidate = secrets.token_hex(8)
        if candidate != previous:
            return candidate


def _grow(
    sub: SubscriptionRecord, cells: frozenset[int], start: datetime, end: datetime, now: datetime
) -> SubscriptionRecord:
    """An implicit subscription extended to cover ``cells`` and ``start..end`` (or ``sub``)."""
    if cells <= sub.cells and sub.time_start <= start and end <= sub.time_end:
        return sub
    return SubscriptionRecord(
        id=sub.id,
        manager=sub.manager,
        version=_new_version(sub.version),
        notification_index=sub.notification_index,
        uss_base_url=sub.uss_base_url,
        notify_for_operational_intents=sub.notify_for_operational_intents,
        notify_for_constraints=sub.notify_for_constraints,
        implicit=True,
        altitude_lower_m=sub.altitude_lower_m,
        altitude_upper_m=sub.altitude_upper_m,
        time_start=min(sub.time_start, start),
        time_end=max(sub.time_end, end),
        updated=now,
        cells=sub.cells | cells,
    )


def _drop_implicit_if_unused(
    tx: StrategicTx, subscription_id: str, now: datetime, caller: Caller
) -> None:
    sub = tx.get_subscription(subscription_id, for_update=True)
    if sub is None or not sub.implicit or tx.oir_ids_of_subscription(subscription_id):
        return
    tx.delete_subscription(subscription_id)
    _event(tx, now, caller, Operation.DELETE, sub)


def _event(
    tx: StrategicTx,
    now: datetime,
    caller: Caller,
    operation: Operation,
    rec: OirRecord | ConstraintRecord | SubscriptionRecord,
    *,
    key: Iterable[str] | None = None,
) -> None:
    """Append the event of an accepted write (see :func:`_write_event`)."""
    tx.append_event(_write_event(now, caller, operation, rec, key=key))


def _write_event(
    now: datetime,
    caller: Caller,
    operation: Operation,
    rec: OirRecord | ConstraintRecord | SubscriptionRecord,
    *,
    key: Iterable[str] | None = None,
) -> Event:
    """The event of an accepted write by ``caller`` (payload: :func:`_payload`)."""
    if isinstance(rec, OirRecord):
        entity_type = EntityType.OPERATIONAL_INTENT_REFERENCE
    elif isinstance(rec, ConstraintRecord):
        entity_type = EntityType.CONSTRAINT_REFERENCE
    else:
        entity_type = EntityType.SUBSCRIPTION
    return Event(entity_type, rec.id, operation, caller.manager, _payload(rec, key), now)


def _group_subscribers(rows: Iterable[tuple[str, str]], now: datetime) -> list[SubscriberToNotify]:
    """Subscriptions ``(id, uss_base_url)`` to notify, grouped by base URL, with the
    time-based notification index of ``now``."""
    index = notification_index(now)
    by_url: dict[str, list[SubscriptionState]] = {}
    for sub_id, url in rows:
        by_url.setdefault(url, []).append(SubscriptionState(sub_id, index))
    return [SubscriberToNotify(url, tuple(states)) for url, states in sorted(by_url.items())]


def _payload(
    rec: OirRecord | ConstraintRecord | SubscriptionRecord, key: Iterable[str] | None = None
) -> dict[str, Any]:
    """The event payload of an accepted write: the entity as written (its covering included,
    never precise geometry) and, for intents, the key the writer presented."""
    payload: dict[str, Any] = {
        "version": rec.version,
        "manager": rec.manager,
        "uss_base_url": rec.uss_base_url,
        "time_start": rec.time_start.isoformat(),
        "time_end": rec.time_end.isoformat(),
        "altitude_lower_m": rec.altitude_lower_m,
        "altitude_upper_m": rec.altitude_upper_m,
        "cells": sorted(rec.cells),
    }
    if isinstance(rec, OirRecord):
        payload |= {"state": rec.state, "ovn": rec.ovn, "subscription_id": rec.subscription_id}
        if key is not None:
            payload["key"] = sorted(key)
    elif isinstance(rec, ConstraintRecord):
        payload |= {"ovn": rec.ovn}
    else:
        payload |= {
            "implicit": rec.implicit,
            "notify_for_operational_intents": rec.notify_for_operational_intents,
            "notify_for_constraints": rec.notify_for_constraints,
        }
    return payload
