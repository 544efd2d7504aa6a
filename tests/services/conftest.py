"""Fixtures for the strategic service tests: a fake clock, a service per backend, builders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sharedsky.model import (
    Caller,
    LatLng,
    NewSubscription,
    OperationalIntentState,
    Polygon,
    PutOperationalIntent,
    PutSubscription,
    Volume4D,
)
from sharedsky.model.strategic import SCOPE_CONFORMANCE_MONITORING_SA, SCOPE_STRATEGIC_COORDINATION
from sharedsky.services import StrategicService
from sharedsky.store import Store, open_store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

USS1 = Caller("uss1", frozenset({SCOPE_STRATEGIC_COORDINATION}))
USS2 = Caller("uss2", frozenset({SCOPE_STRATEGIC_COORDINATION}))
USS1_CMSA = Caller(
    "uss1", frozenset({SCOPE_STRATEGIC_COORDINATION, SCOPE_CONFORMANCE_MONITORING_SA})
)


class FakeClock:
    """A settable clock: ``clock()`` returns ``now``; ``advance`` moves it on."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def svc(store: Store, clock: FakeClock) -> StrategicService:
    return StrategicService(store, clock=clock)


def new_id() -> str:
    return str(uuid.uuid4())


def box(lat: float, lng: float, size: float = 0.01) -> Polygon:
    """A small square with its south-west corner at (lat, lng), ``size`` degrees a side."""
    return Polygon(
        (
            LatLng(lat, lng),
            LatLng(lat, lng + size),
            LatLng(lat + size, lng + size),
            LatLng(lat + size, lng),
        )
    )


def vol(
    lat: float = 46.0,
    lng: float = 7.0,
    *,
    size: float = 0.01,
    lo: float = 0.0,
    hi: float = 120.0,
    start: timedelta = timedelta(minutes=0),
    duration: timedelta = timedelta(hours=1),
    now: datetime = T0,
) -> Volume4D:
    return Volume4D(box(lat, lng, size), lo, hi, now + start, now + start + duration)


def oir_params(
    *volumes: Volume4D,
    key: tuple[str, ...] = (),
    state: OperationalIntentState = OperationalIntentState.ACCEPTED,
    subscription_id: str | None = None,
    new_subscription: NewSubscription | None = None,
    requested_ovn_suffix: str | None = None,
    url: str = "https://uss1.example.com",
) -> PutOperationalIntent:
    return PutOperationalIntent(
        extents=volumes or (vol(),),
        key=key,
        state=state,
        uss_base_url=url,
        subscription_id=subscription_id,
        new_subscription=new_subscription,
        requested_ovn_suffix=requested_ovn_suffix,
    )


def sub_params(
    volume: Volume4D | None = None,
    *,
    oi: bool = True,
    constraints: bool = False,
    url: str = "https://uss1.example.com",
) -> PutSubscription:
    return PutSubscription(volume or vol(size=0.05), url, oi, constraints)
