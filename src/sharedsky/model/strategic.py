"""Domain types of strategic coordination (ASTM F3548-21 DSS).

Pure, frozen value objects with no I/O. Units and frames:

* positions are WGS-84 degrees (``lat`` in -90..90, ``lng`` in -180..180);
* altitudes are metres above the WGS-84 ellipsoid (the spec's ``W84`` reference);
* radii are metres;
* times are timezone-aware UTC :class:`~datetime.datetime` values.

Validation of these values (ranges, polygon shape, area limits) lives in
:mod:`sharedsky.geo.cells`; the rules (keys, OVNs, subscriptions) live in
:mod:`sharedsky.services.strategic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sharedsky.model.scopes import (
    SCOPE_AVAILABILITY_ARBITRATION,
    SCOPE_CONFORMANCE_MONITORING_SA,
    SCOPE_CONSTRAINT_MANAGEMENT,
    SCOPE_CONSTRAINT_PROCESSING,
    SCOPE_STRATEGIC_COORDINATION,
)

__all__ = [
    "NO_OVN_PHRASE",
    "NULL_SUBSCRIPTION_ID",
    "SCOPE_AVAILABILITY_ARBITRATION",
    "SCOPE_CONFORMANCE_MONITORING_SA",
    "SCOPE_CONSTRAINT_MANAGEMENT",
    "SCOPE_CONSTRAINT_PROCESSING",
    "SCOPE_STRATEGIC_COORDINATION",
    "Caller",
    "Circle",
    "ConstraintReference",
    "LatLng",
    "NewSubscription",
    "OperationalIntentReference",
    "OperationalIntentState",
    "Polygon",
    "PutConstraint",
    "PutOperationalIntent",
    "PutSubscription",
    "SubscriberToNotify",
    "Subscription",
    "SubscriptionState",
    "UssAvailability",
    "UssAvailabilityState",
    "Volume4D",
]

NO_OVN_PHRASE = "Available from USS"
"""What callers other than the manager see in place of an entity's OVN."""

NULL_SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000000"
"""The ``subscription_id`` shown for an operational intent with no subscription attached."""


@dataclass(frozen=True, slots=True)
class LatLng:
    """A point, WGS-84 degrees."""

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """A polygon whose edges are great-circle arcs between consecutive ``vertices``.

    At least three vertices, none repeated (the ring is not closed by repeating the first);
    either winding order is accepted, the smaller enclosed area is meant.
    """

    vertices: tuple[LatLng, ...]


@dataclass(frozen=True, slots=True)
class Circle:
    """A circle on the ground: ``center`` and ``radius_m`` (metres, > 0)."""

    center: LatLng
    radius_m: float


@dataclass(frozen=True, slots=True)
class Volume4D:
    """An outline extruded between two altitudes over a time interval.

    ``altitude_*_m`` are metres W84; times are UTC. Any of them may be ``None`` where the spec
    allows it (queries); puts of intents and constraints need all of them.
    """

    outline: Polygon | Circle | None
    altitude_lower_m: float | None = None
    altitude_upper_m: float | None = None
    time_start: datetime | None = None
    time_end: datetime | None = None


class OperationalIntentState(StrEnum):
    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    NONCONFORMING = "Nonconforming"
    CONTINGENT = "Contingent"


class UssAvailabilityState(StrEnum):
    UNKNOWN = "Unknown"
    NORMAL = "Normal"
    DOWN = "Down"


@dataclass(frozen=True, slots=True)
class OperationalIntentReference:
    """An operational intent as the DSS knows it (no precise geometry is kept).

    ``ovn`` is the current opaque version number for the manager, :data:`NO_OVN_PHRASE` for
    anyone else. ``version`` increments exactly when the entity changes. ``subscription_id`` is
    :data:`NULL_SUBSCRIPTION_ID` when none is attached.
    """

    id: str
    manager: str
    uss_availability: UssAvailabilityState
    version: int
    state: OperationalIntentState
    ovn: str | None
    time_start: datetime
    time_end: datetime
    uss_base_url: str
    subscription_id: str


@dataclass(frozen=True, slots=True)
class ConstraintReference:
    """A constraint as the DSS knows it; like an intent without state and subscription."""

    id: str
    manager: str
    uss_availability: UssAvailabilityState
    version: int
    ovn: str | None
    time_start: datetime
    time_end: datetime
    uss_base_url: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription to changes in an area.

    ``version`` is an opaque string that changes on every write. ``notification_index`` is
    time-based (see :mod:`sharedsky.services.strategic`).
    """

    id: str
    version: str
    notification_index: int
    time_start: datetime
    time_end: datetime
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit_subscription: bool
    dependent_operational_intents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    subscription_id: str
    notification_index: int


@dataclass(frozen=True, slots=True)
class SubscriberToNotify:
    """The subscriptions of one USS (by base URL) to tell about a change."""

    uss_base_url: str
    subscriptions: tuple[SubscriptionState, ...]


@dataclass(frozen=True, slots=True)
class UssAvailability:
    """A USS's availability; ``version`` is ``""`` for a USS never set."""

    uss: str
    availability: UssAvailabilityState
    version: str


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """Request for an implicit subscription, made together with an operational intent."""

    uss_base_url: str
    notify_for_constraints: bool = False


@dataclass(frozen=True, slots=True)
class PutOperationalIntent:
    """Body of an operational intent create or update.

    ``key`` holds the OVNs the writer has read; ``requested_ovn_suffix`` is an optional UUIDv7.
    """

    extents: tuple[Volume4D, ...]
    key: tuple[str, ...]
    state: OperationalIntentState
    uss_base_url: str
    subscription_id: str | None = None
    new_subscription: NewSubscription | None = None
    requested_ovn_suffix: str | None = None


@dataclass(frozen=True, slots=True)
class PutConstraint:
    extents: tuple[Volume4D, ...]
    uss_base_url: str


@dataclass(frozen=True, slots=True)
class PutSubscription:
    extents: Volume4D
    uss_base_url: str
    notify_for_operational_intents: bool = False
    notify_for_constraints: bool = False


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: ``manager`` is the token's ``sub``; ``scopes`` its granted scopes."""

    manager: str
    scopes: frozenset[str] = frozenset()
