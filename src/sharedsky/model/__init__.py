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
from sharedsky.model.traffic_table import (
    TRAFFIC_COLUMNS,
    TrafficTable,
    read_traffic_table,
)

__all__ = [
    "NO_OVN_PHRASE",
    "NULL_SUBSCRIPTION_ID",
    "SYSTEM_ACTOR",
    "TRAFFIC_COLUMNS",
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
    "TrafficTable",
    "UssAvailability",
    "UssAvailabilityState",
    "Volume4D",
    "read_traffic_table",
]
