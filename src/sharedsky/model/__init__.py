"""Pure domain types of sharedsky (no I/O)."""

from __future__ import annotations

from sharedsky.model.events import SYSTEM_ACTOR, EntityType, Event, Operation, RecordedEvent
from sharedsky.model.strategic import (
    NO_OVN_PHRASE,
    NULL_SUBSCRIPTION_ID,
    Caller,
    Circle,
    ConstraintReference,
    LatLng,
    NewSubscription,
    OperationalIntentReference,
    OperationalIntentState,
    Polygon,
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

__all__ = [
    "NO_OVN_PHRASE",
    "NULL_SUBSCRIPTION_ID",
    "SYSTEM_ACTOR",
    "Caller",
    "Circle",
    "ConstraintReference",
    "EntityType",
    "Event",
    "LatLng",
    "NewSubscription",
    "Operation",
    "OperationalIntentReference",
    "OperationalIntentState",
    "Polygon",
    "PutConstraint",
    "PutOperationalIntent",
    "PutSubscription",
    "RecordedEvent",
    "SubscriberToNotify",
    "Subscription",
    "SubscriptionState",
    "UssAvailability",
    "UssAvailabilityState",
    "Volume4D",
]
