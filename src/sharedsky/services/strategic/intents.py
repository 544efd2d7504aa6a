"""Operational intents: query, get, create or update (the key check, implicit subscriptions,
the short write of the planning loop) and delete."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sharedsky.errors import (
    AirspaceConflict,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from sharedsky.geo import (
    MAX_AREA_KM2,
    cover_volumes,
    parent_cells,
)
from sharedsky.model.events import Event, Operation
from sharedsky.model.strategic import (
    NULL_SUBSCRIPTION_ID,
    SCOPE_CONFORMANCE_MONITORING_SA,
    Caller,
    OperationalIntentReference,
    OperationalIntentState,
    PutOperationalIntent,
    SubscriberToNotify,
    UssAvailabilityState,
    Volume4D,
)
from sharedsky.services.strategic._base import (
    ServiceBase,
    _drop_implicit_if_unused,
    _event,
    _group_subscribers,
    _new_version,
    _text,
    _write_event,
    notification_index,
)
from sharedsky.store import (
    ConstraintRecord,
    OirRead,
    OirRecord,
    OirWrite,
    StrategicTx,
    SubscriptionRecord,
    TransientStorageError,
)

_ACTIVE_STATES = frozenset({OperationalIntentState.ACCEPTED, OperationalIntentState.ACTIVATED})
_OFF_NOMINAL_STATES = frozenset(
    {OperationalIntentState.NONCONFORMING, OperationalIntentState.CONTINGENT}
)


class OperationalIntentUseCases(ServiceBase):
    """Operational intent references: query, get, put (create or update) and delete."""

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
        """Delete an intent (manager only, current OVN); its unused implicit subscription goes.

        One read under the lock of the intent's area, then one write that commits (on
        PostgreSQL a round trip each: :meth:`~sharedsky.store.StrategicTx.oir_delete_context`,
        :meth:`~sharedsky.store.StrategicTx.remove_oir`)."""
        now = self._now()

        def work(
            tx: StrategicTx,
        ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
            old, my_av, sub, co_attached = tx.oir_delete_context(entity_id, caller.manager)
            if old is None:
                raise NotFound(f"operational intent {entity_id} not found")
            if old.manager != caller.manager:
                raise PermissionDenied(f"operational intent {entity_id} is managed by another USS")
            if old.ovn != ovn:
                raise Conflict(f"OVN {ovn} is not the current OVN of {entity_id}")
            if my_av == UssAvailabilityState.DOWN:
                raise PreconditionFailed(
                    f"{caller.manager} is marked Down in the DSS: it cannot delete operational "
                    "intents until it declares itself available"
                )
            view = self._oir_view(old, caller, {} if my_av is None else {caller.manager: my_av})
            # An implicit subscription that no other intent uses goes with the intent; its
            # event comes first.
            dropped: tuple[str, Event] | None = None
            if sub is not None and sub.implicit and not co_attached:
                dropped = (sub.id, _write_event(now, caller, Operation.DELETE, sub))
            event = _write_event(now, caller, Operation.DELETE, old)
            rows = tx.remove_oir(old, event, now, subscription=dropped, commit=True)
            return view, _group_subscribers(rows, now)

        return self._write(work)

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

