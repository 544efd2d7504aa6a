"""What the strategic use cases share: the store and the clock, the write retry, the views
in a caller's eyes, OVNs and versions, notification indexes, events and their payloads."""

from __future__ import annotations

import random
import secrets
import time as _time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sharedsky.errors import (
    InvalidInput,
    StorageError,
    reject_nul,
)
from sharedsky.geo import (
    MAX_AREA_KM2,
    cover_volume,
)
from sharedsky.model.events import EntityType, Event, Operation
from sharedsky.model.strategic import (
    NO_OVN_PHRASE,
    NULL_SUBSCRIPTION_ID,
    Caller,
    ConstraintReference,
    OperationalIntentReference,
    OperationalIntentState,
    SubscriberToNotify,
    Subscription,
    SubscriptionState,
    UssAvailabilityState,
    Volume4D,
)
from sharedsky.store import (
    ConstraintRecord,
    OirRecord,
    Store,
    StrategicTx,
    SubscriptionRecord,
    TransientStorageError,
)
from sharedsky.units import utcnow

OVN_SUFFIX_WINDOW = timedelta(minutes=5)
"""How far the time of a requested UUIDv7 OVN suffix may be from the server clock."""

MAX_WRITE_ATTEMPTS = 12

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



class ServiceBase:
    """The store, the clock and the plumbing every use case needs."""

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
