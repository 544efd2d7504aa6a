"""Strategic coordination use cases (ASTM F3548-21 DSS): signatures being filled in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sharedsky.model.strategic import (
    Caller,
    ConstraintReference,
    OperationalIntentReference,
    PutConstraint,
    PutOperationalIntent,
    PutSubscription,
    SubscriberToNotify,
    Subscription,
    UssAvailability,
    UssAvailabilityState,
    Volume4D,
)
from sharedsky.units import utcnow

__all__ = ["StrategicService"]


class StrategicService:
    def __init__(self, store: Any, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def query_operational_intents(
        self, area: Volume4D, caller: Caller
    ) -> list[OperationalIntentReference]:
        raise NotImplementedError

    def get_operational_intent(self, entity_id: str, caller: Caller) -> OperationalIntentReference:
        raise NotImplementedError

    def put_operational_intent(
        self, entity_id: str, ovn: str | None, params: PutOperationalIntent, caller: Caller
    ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
        raise NotImplementedError

    def delete_operational_intent(
        self, entity_id: str, ovn: str, caller: Caller
    ) -> tuple[OperationalIntentReference, list[SubscriberToNotify]]:
        raise NotImplementedError

    def query_constraints(self, area: Volume4D, caller: Caller) -> list[ConstraintReference]:
        raise NotImplementedError

    def get_constraint(self, entity_id: str, caller: Caller) -> ConstraintReference:
        raise NotImplementedError

    def put_constraint(
        self, entity_id: str, ovn: str | None, params: PutConstraint, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        raise NotImplementedError

    def delete_constraint(
        self, entity_id: str, ovn: str, caller: Caller
    ) -> tuple[ConstraintReference, list[SubscriberToNotify]]:
        raise NotImplementedError

    def query_subscriptions(self, area: Volume4D, caller: Caller) -> list[Subscription]:
        raise NotImplementedError

    def get_subscription(self, subscription_id: str, caller: Caller) -> Subscription:
        raise NotImplementedError

    def put_subscription(
        self, subscription_id: str, version: str | None, params: PutSubscription, caller: Caller
    ) -> tuple[Subscription, list[OperationalIntentReference], list[ConstraintReference]]:
        raise NotImplementedError

    def delete_subscription(
        self, subscription_id: str, version: str, caller: Caller
    ) -> Subscription:
        raise NotImplementedError

    def get_uss_availability(self, uss_id: str, caller: Caller) -> UssAvailability:
        raise NotImplementedError

    def set_uss_availability(
        self, uss_id: str, old_version: str, availability: UssAvailabilityState, caller: Caller
    ) -> UssAvailability:
        raise NotImplementedError

    def make_report(self, report: dict[str, Any], caller: Caller) -> str:
        raise NotImplementedError
