"""Wire schemas: strict parsing, the spec's ranges, time handling, and domain <-> wire mapping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from sharedsky.api.dss.schemas import (
    PutOperationalIntentReferenceParameters,
    PutSubscriptionParameters,
    Volume4DWire,
    constraint_to_wire,
    format_time,
    oir_to_wire,
    parse_time,
    subscribers_to_wire,
    subscription_to_wire,
    uss_availability_to_wire,
)
from sharedsky.model.strategic import (
    Circle,
    ConstraintReference,
    OperationalIntentReference,
    OperationalIntentState,
    Polygon,
    SubscriberToNotify,
    Subscription,
    SubscriptionState,
    UssAvailability,
    UssAvailabilityState,
)

T0 = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _alt(value: float) -> dict[str, Any]:
    return {"value": value, "reference": "W84", "units": "M"}


def _time(value: str) -> dict[str, str]:
    return {"value": value, "format": "RFC3339"}


def _volume(**changes: Any) -> dict[str, Any]:
    vol: dict[str, Any] = {
        "volume": {
            "outline_polygon": {
                "vertices": [{"lat": 0, "lng": 0}, {"lat": 0, "lng": 0.01}, {"lat": 0.01, "lng": 0}]
            },
            "altitude_lower": _alt(0),
            "altitude_upper": _alt(100),
        },
        "time_start": _time("2030-01-01T00:00:00Z"),
        "time_end": _time("2030-01-01T01:00:00Z"),
    }
    for key, value in changes.items():
        if key in ("time_start", "time_end"):
            vol[key] = value
        else:
            vol["volume"][key] = value
    return vol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05.5Z", datetime(2030, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("2030-01-02t03:04:05.123456789z", datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2030-01-02T05:04:05+02:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-01T23:59:60Z", datetime(2030, 1, 1, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2030-01-02T03:04:05", "2030-01-02 03:04:05Z", "2030-13-02T03:04:05Z", "yesterday", ""],
)
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        parse_time(text)


def test_format_time_is_utc_with_z() -> None:
    local = T0.astimezone(timezone(timedelta(hours=-5)))
    assert format_time(local) == "2030-01-02T03:04:05.678901Z"
    assert parse_time(format_time(T0)) == T0


def test_volume_to_model() -> None:
    v = Volume4DWire.model_validate(_volume()).to_model()
    assert isinstance(v.outline, Polygon) and len(v.outline.vertices) == 3
    assert (v.altitude_lower_m, v.altitude_upper_m) == (0, 100)
    assert v.time_start == datetime(2030, 1, 1, tzinfo=UTC)
    circle = {"center": {"lat": 1, "lng": 2}, "radius": {"value": 300.5, "units": "M"}}
    v = Volume4DWire.model_validate({"volume": {"outline_circle": circle}}).to_model()
    assert v.outline == Circle(center=v.outline.center, radius_m=300.5)  # type: ignore[union-attr]
    assert (v.altitude_lower_m, v.time_start) == (None, None)


def _error_locs(exc: ValidationError) -> list[str]:
    return [".".join(map(str, e["loc"])) for e in exc.errors()]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            _volume(outline_polygon={"vertices": [{"lat": 0, "lng": 0}, {"lat": 1, "lng": 1}]}),
            "volume.outline_polygon.vertices",
        ),
        (
            _volume(outline_polygon={"vertices": [{"lat": 91, "lng": 0}] * 3}),
            "volume.outline_polygon.vertices.0.lat",
        ),
        (
            _volume(outline_polygon={"vertices": [{"lat": 0, "lng": -180.5}] * 3}),
            "volume.outline_polygon.vertices.0.lng",
        ),
        (_volume(altitude_lower=_alt(-9000)), "volume.altitude_lower.value"),
        (_volume(altitude_upper=_alt(100001)), "volume.altitude_upper.value"),
        (
            _volume(altitude_upper={"value": 10, "reference": "SFC", "units": "M"}),
            "volume.altitude_upper.reference",
        ),
        (
            _volume(altitude_upper={"value": 10, "reference": "W84", "units": "FT"}),
            "volume.altitude_upper.units",
        ),
        (_volume(altitude_upper=_alt("100")), "volume.altitude_upper.value"),
        (_volume(altitude_lower=_alt(200)), "volume"),
        (_volume(time_end=_time("2029-01-01T00:00:00Z")), ""),
        (_volume(time_end=_time("2030-01-01T01:00:00")), "time_end.value"),
        (_volume(time_end={"value": "2030-01-01T01:00:00Z"}), "time_end.format"),
        (
            _volume(
                outline_circle={
                    "center": {"lat": 0, "lng": 0},
                    "radius": {"value": 10, "units": "M"},
                }
            ),
            "volume",
        ),
        ({"volume": {}}, "volume"),
        (
            {
                "volume": {
                    "outline_circle": {
                        "center": {"lat": 0, "lng": 0},
                        "radius": {"value": 0, "units": "M"},
                    }
                }
            },
            "volume.outline_circle.radius.value",
        ),
        (
            {
                "volume": {
                    "outline_circle": {
                        "center": {"lat": 0, "lng": 0},
                        "radius": {"value": float("nan"), "units": "M"},
                    }
                }
            },
            "volume.outline_circle.radius.value",
        ),
    ],
)
def test_volume_refusals_name_the_field(body: dict[str, Any], loc: str) -> None:
    with pytest.raises(ValidationError) as info:
        Volume4DWire.model_validate(body)
    assert loc in _error_locs(info.value)


def _oir_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": [_volume()],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
    }
    body.update(changes)
    return body


def test_put_oir_parameters_to_model() -> None:
    params = PutOperationalIntentReferenceParameters.model_validate(
        _oir_body(
            key=["0123456789abcdef"],
            subscription_id="78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f",
            requested_ovn_suffix="0191b794-9628-745a-a598-aa1fcd4a82bf",
            unknown_field={"ignored": True},
        )
    ).to_model()
    assert params.state is OperationalIntentState.ACCEPTED
    assert params.key == ("0123456789abcdef",)
    assert params.subscription_id == "78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f"
    assert params.requested_ovn_suffix == "0191b794-9628-745a-a598-aa1fcd4a82bf"
    assert params.new_subscription is None
    assert (
        PutOperationalIntentReferenceParameters.model_validate(_oir_body(key=None)).to_model().key
        == ()
    )


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"extents": []}, "extents"),
        ({"state": "Ended"}, "state"),
        ({"key": ["short"]}, "key.0"),
        ({"subscription_id": "78ea3fe8-71c2-1f5c-9b44-9c02f5563c6f"}, "subscription_id"),
        ({"requested_ovn_suffix": "78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f"}, "requested_ovn_suffix"),
        ({"uss_base_url": 5}, "uss_base_url"),
        (
            {"new_subscription": {"uss_base_url": "https://x", "notify_for_constraints": "yes"}},
            "new_subscription.notify_for_constraints",
        ),
        (
            {
                "subscription_id": "78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f",
                "new_subscription": {"uss_base_url": "https://x"},
            },
            "",
        ),
    ],
)
def test_put_oir_refusals_name_the_field(changes: dict[str, Any], loc: str) -> None:
    with pytest.raises(ValidationError) as info:
        PutOperationalIntentReferenceParameters.model_validate(_oir_body(**changes))
    assert loc in _error_locs(info.value)


def test_subscription_flags_are_strict_booleans() -> None:
    body = {"extents": _volume(), "uss_base_url": "https://u", "notify_for_constraints": 1}
    with pytest.raises(ValidationError) as info:
        PutSubscriptionParameters.model_validate(body)
    assert "notify_for_constraints" in _error_locs(info.value)


def test_domain_to_wire_matches_the_spec(assert_spec: Callable[[Any, str], None]) -> None:
    oir = OperationalIntentReference(
        id="2f8343be-6482-4d1b-a474-16847e01af1e",
        manager="uss1",
        uss_availability=UssAvailabilityState.UNKNOWN,
        version=3,
        state=OperationalIntentState.ACTIVATED,
        ovn="2f8343be-6482-4d1b-a474-16847e01af1e_0191b794",
        time_start=T0,
        time_end=T0 + timedelta(hours=1),
        uss_base_url="https://uss1.example.com",
        subscription_id="78ea3fe8-71c2-4f5c-9b44-9c02f5563c6f",
    )
    wire = oir_to_wire(oir)
    assert wire["time_start"] == {"value": "2030-01-02T03:04:05.678901Z", "format": "RFC3339"}
    assert wire["state"] == "Activated" and wire["uss_availability"] == "Unknown"
    assert_spec(wire, "OperationalIntentReference")
    cr = ConstraintReference(
        id=oir.id,
        manager="uss2",
        uss_availability=UssAvailabilityState.DOWN,
        version=1,
        ovn=None,
        time_start=T0,
        time_end=T0,
        uss_base_url="https://uss2.example.com",
    )
    assert "ovn" not in constraint_to_wire(cr)
    assert_spec(constraint_to_wire(cr), "ConstraintReference")
    sub = Subscription(
        id=oir.subscription_id,
        version="v1",
        notification_index=4,
        time_start=T0,
        time_end=T0,
        uss_base_url="https://uss1.example.com",
        notify_for_operational_intents=True,
        notify_for_constraints=False,
        implicit_subscription=True,
        dependent_operational_intents=(oir.id,),
    )
    assert_spec(subscription_to_wire(sub), "Subscription")
    subscribers = [SubscriberToNotify("https://uss1.example.com", (SubscriptionState(sub.id, 4),))]
    assert_spec(
        {"subscribers": subscribers_to_wire(subscribers), "operational_intent_reference": wire},
        "ChangeOperationalIntentReferenceResponse",
    )
    avail = uss_availability_to_wire(UssAvailability("uss1", UssAvailabilityState.NORMAL, "v"))
    assert avail == {"status": {"uss": "uss1", "availability": "Normal"}, "version": "v"}
    assert_spec(avail, "UssAvailabilityStatusResponse")


def test_spec_check_catches_drift(assert_spec: Callable[[Any, str], None]) -> None:
    with pytest.raises(AssertionError, match="ovn_hidden"):
        assert_spec({"message": "x", "ovn_hidden": 1}, "ErrorResponse")
    with pytest.raises(AssertionError, match="format"):
        assert_spec({"value": "2030-01-01T00:00:00Z"}, "Time")
