"""Subscriptions: query, get, create or update, and delete."""

from __future__ import annotations

from datetime import timedelta

from uas_standards.astm.f3548.v21 import constants as f3548

from sharedsky.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from sharedsky.geo import (
    MAX_AREA_KM2,
    cover_volume,
)
from sharedsky.model.events import Operation
from sharedsky.model.strategic import (
    Caller,
    ConstraintReference,
    OperationalIntentReference,
    PutSubscription,
    Subscription,
    Volume4D,
)
from sharedsky.services.strategic._base import (
    ServiceBase,
    _event,
    _new_version,
    _text,
    notification_index,
)
from sharedsky.store import (
    OirRecord,
    StrategicTx,
    SubscriptionRecord,
)

MAX_SUBSCRIPTION_DURATION = timedelta(hours=f3548.DSSMaxSubscriptionDurationHours)
"""Longest time span of a subscription (F3548 ``DSSMaxSubscriptionDurationHours``)."""

SUBSCRIPTION_START_TOLERANCE = timedelta(minutes=5)
"""How far in the past a subscription may start."""


class SubscriptionUseCases(ServiceBase):
    """Subscriptions: query, get, put (create or update) and delete."""

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
