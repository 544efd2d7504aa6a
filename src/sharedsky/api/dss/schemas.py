"""Wire formats of the F3548 DSS interface, exactly as ``utm.yaml`` (ASTM F3548-21 Annex A3.1)
defines them, and their translation to and from :mod:`sharedsky.model.strategic`.

Requests are parsed strictly (a string is not a number, ``"true"`` is not a boolean, NaN and
infinities are refused) into pydantic models; unknown fields are ignored, as the spec asks.
Responses are built as plain JSON dictionaries by the ``*_to_wire`` functions (fast, and checked
against ``utm.yaml`` in the tests); the response models below document them in the served
OpenAPI.

Units at this edge are the spec's: altitudes in metres above the WGS-84 ellipsoid (``W84``/``M``),
radii in metres, times as RFC 3339 strings. Times are written in UTC with a ``Z`` and microsecond
precision.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from sharedsky.model.strategic import (
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
    UssAvailability,
    UssAvailabilityState,
    Volume4D,
)

__all__ = [
    "UUIDV4_PATTERN",
    "UUIDV7_PATTERN",
    "AirspaceConflictResponse",
    "Altitude",
    "ChangeConstraintReferenceResponse",
    "ChangeOperationalIntentReferenceResponse",
    "CircleWire",
    "ConstraintReferenceWire",
    "DeleteSubscriptionResponse",
    "ErrorReport",
    "ErrorResponse",
    "GetConstraintReferenceResponse",
    "GetOperationalIntentReferenceResponse",
    "GetSubscriptionResponse",
    "ImplicitSubscriptionParameters",
    "LatLngPoint",
    "OperationalIntentReferenceWire",
    "PolygonWire",
    "PutConstraintReferenceParameters",
    "PutOperationalIntentReferenceParameters",
    "PutSubscriptionParameters",
    "PutSubscriptionResponse",
    "QueryConstraintReferenceParameters",
    "QueryConstraintReferencesResponse",
    "QueryOperationalIntentReferenceParameters",
    "QueryOperationalIntentReferenceResponse",
    "QuerySubscriptionParameters",
    "QuerySubscriptionsResponse",
    "Radius",
    "SetUssAvailabilityStatusParameters",
    "SubscriptionWire",
    "Time",
    "UssAvailabilityStatusResponse",
    "Volume3D",
    "Volume4DWire",
    "constraint_to_wire",
    "format_time",
    "oir_to_wire",
    "parse_time",
    "subscribers_to_wire",
    "subscription_to_wire",
    "uss_availability_to_wire",
]

UUIDV4_PATTERN = (
    r"^[0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-4[0-9a-fA-F]{3}\-[89abAB][0-9a-fA-F]{3}\-[0-9a-fA-F]{12}$"
)
UUIDV7_PATTERN = (
    r"^[0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-7[0-9a-fA-F]{3}\-[89abAB][0-9a-fA-F]{3}\-[0-9a-fA-F]{12}$"
)

EntityID = Annotated[str, StringConstraints(min_length=36, max_length=36, pattern=UUIDV4_PATTERN)]
SubscriptionID = EntityID
UUIDv7 = Annotated[str, StringConstraints(min_length=36, max_length=36, pattern=UUIDV7_PATTERN)]
EntityOVN = Annotated[str, StringConstraints(min_length=16, max_length=128)]
OperationalIntentStateWire = Literal["Accepted", "Activated", "Nonconforming", "Contingent"]
UssAvailabilityStateWire = Literal["Unknown", "Normal", "Down"]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


@lru_cache(maxsize=4096)  # a pure function; each request parses its times more than once
def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 date-time (``Z`` or a numeric offset) into an aware UTC datetime.

    Fractions beyond microseconds are truncated. ``ValueError`` names what is wrong.
    """
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(
            f"{value!r} is not an RFC 3339 date-time (expected e.g. 2025-01-31T12:00:00Z)"
        )
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    fraction = m.group(7) or ""
    micro = int((fraction + "000000")[:6])
    if m.group(8):
        tz = UTC
    else:
        sign = 1 if m.group(9) == "+" else -1
        hours, minutes = int(m.group(10)), int(m.group(11))
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} has an invalid UTC offset")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    if second == 60:  # a leap second: the last instant of that minute
        second, micro = 59, 999_999
    try:
        parsed = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from exc
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, microsecond precision."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Wire(BaseModel):
    """Strict parsing; unknown fields ignored (the spec: they "must be ignored")."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


# --- Geometry and time ---------------------------------------------------------------------------


class Time(_Wire):
    """``{"value": RFC 3339 date-time, "format": "RFC3339"}``."""

    value: str = Field(description="RFC3339-formatted time/date string. The time zone must be 'Z'.")
    format: Literal["RFC3339"]

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str) -> str:
        parse_time(value)
        return value

    def to_datetime(self) -> datetime:
        return parse_time(self.value)

    @classmethod
    def of(cls, value: datetime) -> Time:
        return cls(value=format_time(value), format="RFC3339")


class Radius(_Wire):
    value: float = Field(gt=0, description="Metres along the WGS84 ellipsoid.")
    units: Literal["M"]


class Altitude(_Wire):
    value: float = Field(ge=-8000, le=100000)
    reference: Literal["W84"]
    units: Literal["M"]


class LatLngPoint(_Wire):
    lng: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)

    def to_model(self) -> LatLng:
        return LatLng(lat=self.lat, lng=self.lng)


class PolygonWire(_Wire):
    """Great-circle edges; at least 3 vertices, none repeated, edges not crossing."""

    model_config = ConfigDict(title="Polygon")

    vertices: list[LatLngPoint] = Field(min_length=3, max_length=10000)

    def to_model(self) -> Polygon:
        return Polygon(vertices=tuple(v.to_model() for v in self.vertices))


class CircleWire(_Wire):
    model_config = ConfigDict(title="Circle")

    center: LatLngPoint
    radius: Radius

    def to_model(self) -> Circle:
        return Circle(center=self.center.to_model(), radius_m=self.radius.value)


class Volume3D(_Wire):
    """Exactly one outline; altitudes optional (queries) and ordered."""

    outline_circle: CircleWire | None = None
    outline_polygon: PolygonWire | None = None
    altitude_lower: Altitude | None = None
    altitude_upper: Altitude | None = None

    @model_validator(mode="after")
    def _check(self) -> Volume3D:
        if (self.outline_circle is None) == (self.outline_polygon is None):
            raise ValueError("exactly one of outline_circle and outline_polygon is required")
        if (
            self.altitude_lower is not None
            and self.altitude_upper is not None
            and self.altitude_lower.value > self.altitude_upper.value
        ):
            raise ValueError("altitude_lower must not be above altitude_upper")
        return self


class Volume4DWire(_Wire):
    model_config = ConfigDict(title="Volume4D")

    volume: Volume3D
    time_start: Time | None = None
    time_end: Time | None = None

    @model_validator(mode="after")
    def _check(self) -> Volume4DWire:
        if (
            self.time_start is not None
            and self.time_end is not None
            and self.time_end.to_datetime() < self.time_start.to_datetime()
        ):
            raise ValueError("time_end must not be before time_start")
        return self

    def to_model(self) -> Volume4D:
        v = self.volume
        outline: Polygon | Circle
        if v.outline_polygon is not None:
            outline = v.outline_polygon.to_model()
        else:
            assert v.outline_circle is not None  # the validator guarantees one outline
            outline = v.outline_circle.to_model()
        return Volume4D(
            outline=outline,
            altitude_lower_m=None if v.altitude_lower is None else v.altitude_lower.value,
            altitude_upper_m=None if v.altitude_upper is None else v.altitude_upper.value,
            time_start=None if self.time_start is None else self.time_start.to_datetime(),
            time_end=None if self.time_end is None else self.time_end.to_datetime(),
        )


# --- Requests ------------------------------------------------------------------------------------


class _AreaQuery(_Wire):
    area_of_interest: Volume4DWire

    def to_model(self) -> Volume4D:
        return self.area_of_interest.to_model()


class QueryOperationalIntentReferenceParameters(_AreaQuery):
    pass


class QueryConstraintReferenceParameters(_AreaQuery):
    pass


class QuerySubscriptionParameters(_AreaQuery):
    pass


class ImplicitSubscriptionParameters(_Wire):
    uss_base_url: str
    notify_for_constraints: bool = False

    def to_model(self) -> NewSubscription:
        return NewSubscription(
            uss_base_url=self.uss_base_url, notify_for_constraints=self.notify_for_constraints
        )


class PutOperationalIntentReferenceParameters(_Wire):
    extents: list[Volume4DWire] = Field(min_length=1)
    key: list[EntityOVN] | None = None
    state: OperationalIntentStateWire
    uss_base_url: str
    subscription_id: SubscriptionID | None = None
    new_subscription: ImplicitSubscriptionParameters | None = None
    requested_ovn_suffix: UUIDv7 | None = None

    @model_validator(mode="after")
    def _check(self) -> PutOperationalIntentReferenceParameters:
        if self.subscription_id is not None and self.new_subscription is not None:
            raise ValueError("give subscription_id or new_subscription, not both")
        return self

    def to_model(self) -> PutOperationalIntent:
        return PutOperationalIntent(
            extents=tuple(e.to_model() for e in self.extents),
            key=tuple(self.key or ()),
            state=OperationalIntentState(self.state),
            uss_base_url=self.uss_base_url,
            subscription_id=self.subscription_id,
            new_subscription=(
                None if self.new_subscription is None else self.new_subscription.to_model()
            ),
            requested_ovn_suffix=self.requested_ovn_suffix,
        )


class PutConstraintReferenceParameters(_Wire):
    extents: list[Volume4DWire] = Field(min_length=1)
    uss_base_url: str

    def to_model(self) -> PutConstraint:
        return PutConstraint(
            extents=tuple(e.to_model() for e in self.extents), uss_base_url=self.uss_base_url
        )


class PutSubscriptionParameters(_Wire):
    extents: Volume4DWire
    uss_base_url: str
    notify_for_operational_intents: bool = False
    notify_for_constraints: bool = False

    def to_model(self) -> PutSubscription:
        return PutSubscription(
            extents=self.extents.to_model(),
            uss_base_url=self.uss_base_url,
            notify_for_operational_intents=self.notify_for_operational_intents,
            notify_for_constraints=self.notify_for_constraints,
        )


class SetUssAvailabilityStatusParameters(_Wire):
    old_version: str
    availability: UssAvailabilityStateWire


class ExchangeRecord(_Wire):
    """A request/response exchange with a problem; kept as sent, apart from unknown fields."""

    url: str
    method: str
    headers: list[str] = Field(default_factory=list)
    recorder_role: Literal["Client", "Server"]
    request_time: Time
    request_body: str = ""
    response_time: Time | None = None
    response_body: str = ""
    response_code: int = Field(default=0, ge=-(2**31), le=2**31 - 1)
    problem: str | None = None


class ErrorReport(_Wire):
    report_id: str | None = Field(default=None, max_length=128)
    exchange: ExchangeRecord


# --- Responses (documentation of what the *_to_wire functions build) -----------------------------


class ErrorResponse(BaseModel):
    message: str


class OperationalIntentReferenceWire(BaseModel):
    model_config = ConfigDict(title="OperationalIntentReference")

    id: str
    manager: str
    uss_availability: UssAvailabilityStateWire
    version: int
    state: OperationalIntentStateWire
    ovn: str | None = None
    time_start: Time
    time_end: Time
    uss_base_url: str
    subscription_id: str


class ConstraintReferenceWire(BaseModel):
    model_config = ConfigDict(title="ConstraintReference")

    id: str
    manager: str
    uss_availability: UssAvailabilityStateWire
    version: int
    ovn: str | None = None
    time_start: Time
    time_end: Time
    uss_base_url: str


class SubscriptionStateWire(BaseModel):
    model_config = ConfigDict(title="SubscriptionState")

    subscription_id: str
    notification_index: int


class SubscriberToNotifyWire(BaseModel):
    model_config = ConfigDict(title="SubscriberToNotify")

    subscriptions: list[SubscriptionStateWire]
    uss_base_url: str


class SubscriptionWire(BaseModel):
    model_config = ConfigDict(title="Subscription")

    id: str
    version: str
    notification_index: int
    time_start: Time | None = None
    time_end: Time | None = None
    uss_base_url: str
    notify_for_operational_intents: bool = False
    notify_for_constraints: bool = False
    implicit_subscription: bool = False
    dependent_operational_intents: list[str] = Field(default_factory=list)


class QueryOperationalIntentReferenceResponse(BaseModel):
    operational_intent_references: list[OperationalIntentReferenceWire]


class GetOperationalIntentReferenceResponse(BaseModel):
    operational_intent_reference: OperationalIntentReferenceWire


class ChangeOperationalIntentReferenceResponse(BaseModel):
    subscribers: list[SubscriberToNotifyWire]
    operational_intent_reference: OperationalIntentReferenceWire


class AirspaceConflictResponse(BaseModel):
    message: str
    missing_operational_intents: list[OperationalIntentReferenceWire] = Field(default_factory=list)
    missing_constraints: list[ConstraintReferenceWire] = Field(default_factory=list)


class QueryConstraintReferencesResponse(BaseModel):
    constraint_references: list[ConstraintReferenceWire]


class GetConstraintReferenceResponse(BaseModel):
    constraint_reference: ConstraintReferenceWire


class ChangeConstraintReferenceResponse(BaseModel):
    subscribers: list[SubscriberToNotifyWire]
    constraint_reference: ConstraintReferenceWire


class QuerySubscriptionsResponse(BaseModel):
    subscriptions: list[SubscriptionWire]


class GetSubscriptionResponse(BaseModel):
    subscription: SubscriptionWire


class PutSubscriptionResponse(BaseModel):
    subscription: SubscriptionWire
    operational_intent_references: list[OperationalIntentReferenceWire] = Field(
        default_factory=list
    )
    constraint_references: list[ConstraintReferenceWire] = Field(default_factory=list)


class DeleteSubscriptionResponse(BaseModel):
    subscription: SubscriptionWire


class UssAvailabilityStatus(BaseModel):
    uss: str
    availability: UssAvailabilityStateWire


class UssAvailabilityStatusResponse(BaseModel):
    status: UssAvailabilityStatus
    version: str


class VersionResponse(BaseModel):
    version: str


# --- Domain -> wire ------------------------------------------------------------------------------


def _time(value: datetime) -> dict[str, str]:
    return {"value": format_time(value), "format": "RFC3339"}


def oir_to_wire(oir: OperationalIntentReference) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": oir.id,
        "manager": oir.manager,
        "uss_availability": str(UssAvailabilityState(oir.uss_availability)),
        "version": oir.version,
        "state": str(OperationalIntentState(oir.state)),
        "time_start": _time(oir.time_start),
        "time_end": _time(oir.time_end),
        "uss_base_url": oir.uss_base_url,
        "subscription_id": oir.subscription_id,
    }
    if oir.ovn is not None:
        out["ovn"] = oir.ovn
    return out


def constraint_to_wire(cr: ConstraintReference) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": cr.id,
        "manager": cr.manager,
        "uss_availability": str(UssAvailabilityState(cr.uss_availability)),
        "version": cr.version,
        "time_start": _time(cr.time_start),
        "time_end": _time(cr.time_end),
        "uss_base_url": cr.uss_base_url,
    }
    if cr.ovn is not None:
        out["ovn"] = cr.ovn
    return out


def subscription_to_wire(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "version": sub.version,
        "notification_index": sub.notification_index,
        "time_start": _time(sub.time_start),
        "time_end": _time(sub.time_end),
        "uss_base_url": sub.uss_base_url,
        "notify_for_operational_intents": sub.notify_for_operational_intents,
        "notify_for_constraints": sub.notify_for_constraints,
        "implicit_subscription": sub.implicit_subscription,
        "dependent_operational_intents": list(sub.dependent_operational_intents),
    }


def subscribers_to_wire(subscribers: list[SubscriberToNotify]) -> list[dict[str, Any]]:
    return [
        {
            "uss_base_url": s.uss_base_url,
            "subscriptions": [
                {"subscription_id": st.subscription_id, "notification_index": st.notification_index}
                for st in s.subscriptions
            ],
        }
        for s in subscribers
    ]


def uss_availability_to_wire(value: UssAvailability) -> dict[str, Any]:
    return {
        "status": {
            "uss": value.uss,
            "availability": str(UssAvailabilityState(value.availability)),
        },
        "version": value.version,
    }
