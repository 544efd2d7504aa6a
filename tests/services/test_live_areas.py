"""Live area proximity against DSS plans and hazards (cell outlines) and configured volumes and
lines, conformance of linked tracks, and need to know in the picture."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sharedsky.errors import NotFound
from sharedsky.model import (
    Caller,
    LatLng,
    OperationalIntentState,
    Polygon,
    PutConstraint,
    PutOperationalIntent,
    Volume4D,
)
from sharedsky.model.alerts import AlertKind, LiveLevel
from sharedsky.model.strategic import SCOPE_CONSTRAINT_MANAGEMENT, SCOPE_STRATEGIC_COORDINATION
from sharedsky.services import StrategicService
from sharedsky.services.live import LiveConfig, LiveService
from sharedsky.store import Store
from tests.services.live_helpers import T0, Clock, batch, east_of, state

T0_DT = datetime.fromtimestamp(T0, UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def vol(lat: float, lon: float, *, size: float, hi: float) -> Volume4D:
    square = Polygon(
        (
            LatLng(lat, lon),
            LatLng(lat, lon + size),
            LatLng(lat + size, lon + size),
            LatLng(lat + size, lon),
        )
    )
    return Volume4D(square, 0.0, hi, T0_DT, T0_DT + timedelta(hours=1))


ALPHA = Caller("alpha", frozenset({SCOPE_STRATEGIC_COORDINATION}))
CHARLIE = Caller("charlie", frozenset({SCOPE_CONSTRAINT_MANAGEMENT}))


def plan(svc: StrategicService, lat: float, lon: float, size: float) -> str:
    oid = new_id()
    params = PutOperationalIntent(
        extents=(vol(lat, lon, size=size, hi=5000.0),),
        key=(),
        state=OperationalIntentState.ACCEPTED,
        uss_base_url="https://alpha.example.com",
        subscription_id=None,
        new_subscription=None,
    )
    svc.put_operational_intent(oid, None, params, ALPHA)
    return oid


@pytest.fixture
def eclock() -> Clock:
    return Clock()


def test_tracks_entering_another_partys_plan_and_a_hazard(
    store: Store, svc: StrategicService, eclock: Clock
) -> None:
    assert T0_DT.timestamp() == T0
    oid = plan(svc, 45.0, 5.0, 0.05)  # about 5.6 km x 3.9 km, 0..5000 m, for an hour
    hid = new_id()
    svc.put_constraint(
        hid,
        None,
        PutConstraint((vol(46.0, 5.0, size=0.05, hi=9000.0),), "https://c.example.com"),
        CHARLIE,
    )
    live = LiveService(store, LiveConfig(silence_after_s=600), eclock)
    lat = 45.025
    # bravo 10 km west of alpha's plan, eastbound at 200 m/s: enters in under 50 s
    live.ingest("bravo", batch(state("B1", T0, lat, east_of(5.0, lat, -10_000))))
    # alpha's own aircraft inside its own plan: not an area alert for alpha
    live.ingest("alpha", batch(state("A1", T0, lat, 5.01, gs=0.0)))
    # alpha's aircraft heading into charlie's hazard from the south, 33 km away: CAUTION
    live.ingest("alpha", batch(state("A2", T0, 46.0 - 0.3, 5.02, trk=0.0, alt=8000.0)))
    alerts = {a.key: a for a in live.run_detection_cycle(T0).transitions}
    entry = alerts[f"area|bravo/B1|plan:{oid}"]
    assert entry.level == LiveLevel.WARNING and entry.parties == ("alpha", "bravo")
    assert entry.inputs[1].kind == "plan" and entry.inputs[1].party == "alpha"
    # the outline of the cells is conservative: entry before the filed edge (50 s)
    assert 40.0 < entry.geometry["t_entry_s"] <= 50.0
    hazard = alerts[f"area|alpha/A2|hazard:{hid}"]
    assert hazard.level == LiveLevel.CAUTION and hazard.parties == ("alpha", "charlie")
    assert not [k for k in alerts if k.startswith("area|alpha/A1")]


def test_conformance_of_a_linked_track(store: Store, svc: StrategicService, eclock: Clock) -> None:
    oid = plan(svc, 45.0, 5.0, 0.05)
    live = LiveService(store, LiveConfig(silence_after_s=600), eclock)
    live.link_track("alpha", "A1", oid)
    with pytest.raises(NotFound):
        live.link_track("bravo", "B1", oid)  # another party's plan is not found
    with pytest.raises(NotFound):
        live.link_track("alpha", "A1", new_id())
    live.ingest("alpha", batch(state("A1", T0, 45.025, 5.02, gs=0.0)))
    assert live.run_detection_cycle(T0).transitions == ()
    t = T0 + 5
    live.ingest("alpha", batch(state("A1", t, 45.025, 5.02, gs=0.0, alt=6000.0)), now=t)
    (out,) = live.run_detection_cycle(t).transitions
    assert out.kind == AlertKind.CONFORMANCE and out.level == LiveLevel.CAUTION
    assert out.parties == ("alpha",) and out.geometry["plan_id"] == oid
    assert out.geometry["vertical_excess_m"] == pytest.approx(1000.0)
    assert live.links("alpha") == {"A1": oid} and live.links("bravo") == {}
    # after the plan's end the track has no active plan volume at all
    t = T0 + 2 * 3600
    live.ingest("alpha", batch(state("A1", t, 45.025, 5.02, gs=0.0)), now=t)
    (after,) = live.run_detection_cycle(t).transitions
    assert after.id == out.id and after.status == "updated"
    assert after.geometry["no_active_plan_volume"] is True


def test_configured_volume_and_border() -> None:
    cfg = LiveConfig.from_dict(
        {
            "silence_after_s": 600,
            "volumes": [
                {
                    "id": "range",
                    "owner": "alpha",
                    "center": [45.0, 5.0],
                    "radius_m": 5000,
                    "lower_m": 0,
                    "upper_m": 10000,
                }
            ],
            "lines": [
                {
                    "id": "border",
                    "kind": "border",
                    "parties": ["alpha", "bravo"],
                    "points": [[44.0, 6.0], [46.0, 6.0]],
                }
            ],
        }
    )
    live = LiveService(None, cfg, Clock())
    live.ingest("bravo", batch(state("B1", T0, 45.0, 5.0, gs=0.0)))  # inside alpha's range
    live.ingest("alpha", batch(state("A1", T0, 45.0, east_of(6.0, 45.0, -30_000))))  # 150 s
    live.ingest("charlie", batch(state("C1", T0, 45.0, east_of(6.0, 45.0, -3000))))
    alerts = {a.key: a for a in live.run_detection_cycle(T0).transitions}
    inside = alerts["area|bravo/B1|volume:range"]
    assert inside.level == LiveLevel.WARNING and inside.geometry["inside"] is True
    assert inside.parties == ("alpha", "bravo")
    cross = alerts["line|alpha/A1|border"]
    assert cross.level == LiveLevel.CAUTION and cross.parties == ("alpha", "bravo")
    # 150 s on the parallel; the engine's local plane at the line's first vertex (44 N) is
    # 2 % wider here
    assert cross.geometry["t_cross_s"] == pytest.approx(150.0, rel=0.03)
    # the border does not concern charlie
    assert "line|charlie/C1|border" not in alerts


def test_need_to_know_in_the_picture(store: Store, svc: StrategicService, eclock: Clock) -> None:
    plan(svc, 30.0, 30.0, 0.01)
    cfg = LiveConfig.from_dict(
        {
            "silence_after_s": 600,
            "visibility_m": 50_000,
            "lines": [{"id": "ab", "parties": ["alpha", "bravo"], "points": [[0, 60], [1, 60]]}],
        }
    )
    live = LiveService(store, cfg, eclock)
    live.ingest("alpha", batch(state("A1", T0, 45.0, 5.0)))
    live.ingest(
        "bravo",
        batch(
            state("NEAR", T0, 45.0, east_of(5.0, 45.0, 40_000)),
            state("FAR", T0, 45.0, east_of(5.0, 45.0, 60_000)),
            state("PLAN", T0, 30.3, 30.0),  # ~33 km from alpha's plan
            state("LINE", T0, 0.5, 60.3),  # ~33 km from the alpha-bravo line
        ),
    )
    live.ingest("charlie", batch(state("CLINE", T0, 0.5, 60.3)))
    live.run_detection_cycle(T0)  # loads plan outlines
    seen = {(v.party, v.track_id) for v in live.picture("alpha")}
    assert seen == {
        ("alpha", "A1"),
        ("bravo", "NEAR"),
        ("bravo", "PLAN"),
        ("bravo", "LINE"),
        ("charlie", "CLINE"),  # near a line that concerns alpha
    }
    # bravo sees alpha's A1 (40 km from NEAR) and charlie's track near its line; charlie
    # sees only its own track (the line does not concern it, nobody else is near)
    assert ("alpha", "A1") in {(v.party, v.track_id) for v in live.picture("bravo")}
    assert {(v.party, v.track_id) for v in live.picture("charlie")} == {
        ("charlie", "CLINE"),
        ("bravo", "LINE"),
    }
