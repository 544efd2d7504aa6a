"""Live alerts: stable ids over raised -> updated -> cleared, identical delivery to every party
involved, SYSTEM alerts for silence and for data too old, and the record in the event table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sharedsky.feeds import FeedHealth, TrackBatch
from sharedsky.model.alerts import AlertKind, AlertStatus, LiveLevel
from sharedsky.services.live import LiveConfig, LiveService
from sharedsky.store import Store, open_store
from tests.services.live_helpers import T0, Clock, ListFeed, batch, head_on, state


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(clock: Clock) -> LiveService:
    # default lead times: CAUTION within 300 s, WARNING within 120 s; 5 NM / 1000 ft minima
    return LiveService(None, LiveConfig(silence_after_s=600, drop_after_s=120), clock)


def fly(live: LiveService, clock: Clock, t: float, gap_m: float) -> list:
    clock.now = t
    a, b = head_on(t, gap_m)
    live.ingest("alpha", batch(a), now=t)
    live.ingest("bravo", batch(b), now=t)
    return list(live.run_detection_cycle(t).transitions)


def test_lifecycle_raised_updated_cleared_with_one_id(live: LiveService, clock: Clock) -> None:
    subs = {p: live.subscribe(p) for p in ("alpha", "bravo", "charlie")}
    # 5 NM = 9260 m; closing at 400 m/s from 110 km: conflict starts in ~252 s -> CAUTION
    (raised,) = fly(live, clock, T0, 110_000)
    assert raised.status == AlertStatus.RAISED and raised.seq == 1
    assert raised.kind == AlertKind.CONFLICT and raised.level == LiveLevel.CAUTION
    assert raised.parties == ("alpha", "bravo")
    assert raised.geometry["t_in_s"] == pytest.approx((110_000 - 9260) / 400, abs=1.0)
    assert raised.geometry["d_cpa_m"] == pytest.approx(0.0, abs=1.0)
    assert [i.party for i in raised.inputs] == ["alpha", "bravo"]
    assert all(i.data_age_s == 0 for i in raised.inputs)
    # a steady approach is not an update
    assert fly(live, clock, T0 + 10, 106_000) == []
    # 140 s later: within 120 s of the conflict -> WARNING, same id
    (upd,) = fly(live, clock, T0 + 140, 110_000 - 400 * 140)
    assert (upd.id, upd.status, upd.level, upd.seq) == (raised.id, "updated", "WARNING", 2)
    # they turn away: the next cycle clears it
    t = T0 + 150
    clock.now = t
    a, b = head_on(t, 110_000 - 400 * 150)
    live.ingest("alpha", batch({**a, "trk_deg": 0.0}), now=t)
    live.ingest("bravo", batch({**b, "trk_deg": 180.0, "alt_m": 6000.0}), now=t)
    (cleared,) = live.run_detection_cycle(t).transitions
    assert (cleared.id, cleared.status, cleared.seq) == (raised.id, "cleared", 3)
    # both parties received the same three transitions, the same dicts; charlie nothing
    got = {p: [i["alert"] for i in s.drain() if i["type"] == "alert"] for p, s in subs.items()}
    assert [a["status"] for a in got["alpha"]] == ["raised", "updated", "cleared"]
    assert got["alpha"] == got["bravo"]
    assert all(x is y for x, y in zip(got["alpha"], got["bravo"], strict=True))
    assert got["charlie"] == []
    assert all(a["advisory"].startswith("ADVISORY ONLY") for a in got["alpha"])
    # history with GET semantics
    hist = live.alerts("bravo")
    assert [a.status for a in hist] == ["raised", "updated", "cleared"]
    assert live.alerts("alpha", active_only=True) == []
    assert [a.seq for a in live.alert_history("alpha", raised.id)] == [1, 2, 3]
    assert live.alerts("charlie") == []
    assert [a.seq for a in live.alerts("alpha", since=T0 + 100)] == [2, 3]


def test_clear_after_keeps_an_alert_through_a_short_gap(clock: Clock) -> None:
    live = LiveService(None, LiveConfig(silence_after_s=600, clear_after_s=3), clock)
    assert len(fly(live, clock, T0, 20_000)) == 1
    t = T0 + 1
    _, b = head_on(t, 20_000 - 400)
    live.ingest("bravo", batch({**b, "trk_deg": 180.0, "alt_m": 6000.0}), now=t)
    assert live.run_detection_cycle(t).transitions == ()
    assert live.run_detection_cycle(T0 + 5).transitions[0].status == "cleared"


def test_loss_of_separation_is_a_warning_with_positions(live: LiveService, clock: Clock) -> None:
    (a,) = fly(live, clock, T0, 4000)
    assert a.level == LiveLevel.WARNING and a.geometry["los"] is True
    (p1, p2) = a.geometry["cpa_positions"]
    assert p1[0] == pytest.approx(45.0, abs=1e-3) and p1[1] == pytest.approx(5.0, abs=1e-3)
    assert p2[2] == pytest.approx(3000.0)


def test_a_far_conflict_is_an_advisory(clock: Clock) -> None:
    # 140 km apart closing at 400 m/s: the conflict starts in ~327 s, beyond the caution time
    cfg = LiveConfig(silence_after_s=600, lookahead_s=600)
    live = LiveService(None, cfg, clock)
    (a,) = fly(live, clock, T0, 140_000)
    assert a.level == LiveLevel.ADVISORY and a.geometry["t_in_s"] > 300


def test_old_data_cannot_be_assessed(live: LiveService, clock: Clock) -> None:
    a, b = head_on(T0, 20_000)
    live.ingest("alpha", batch(a), now=T0)
    live.ingest("bravo", batch(b), now=T0)
    report = live.run_detection_cycle(T0 + 45)  # both 45 s old > quality.max_age_s (30 s)
    (sys_alert,) = report.transitions
    assert sys_alert.kind == AlertKind.CANNOT_ASSESS and sys_alert.level == LiveLevel.SYSTEM
    assert sys_alert.parties == ("alpha", "bravo")


def test_a_track_without_kinematics_cannot_be_assessed(live: LiveService) -> None:
    live.ingest("alpha", batch({"track_id": "A9", "t": T0, "lat": 45, "lon": 5}))
    (a,) = live.run_detection_cycle(T0).transitions
    assert a.kind == AlertKind.CANNOT_ASSESS and a.parties == ("alpha",)
    assert a.geometry["missing"] == ["alt_m", "gs_mps", "trk_deg", "vs_mps"]


def test_a_silent_party_raises_a_system_alert_to_everyone(clock: Clock) -> None:
    live = LiveService(
        None, LiveConfig(silence_after_s=10, drop_after_s=120, clear_after_s=0), clock
    )
    live.ingest("alpha", batch(state("A1", T0, 45, 5)))
    live.ingest("bravo", batch(state("B1", T0, 10, 5)))
    sub = live.subscribe("bravo")
    assert live.run_detection_cycle(T0 + 5).transitions == ()
    clock.now = T0 + 11
    live.ingest("bravo", batch(state("B1", T0 + 11, 10, 5.01)))
    (silent,) = live.run_detection_cycle(T0 + 11).transitions
    assert silent.kind == AlertKind.PARTY_SILENT and silent.level == LiveLevel.SYSTEM
    assert silent.parties == ("alpha", "bravo") and silent.inputs[0].id == "alpha"
    assert [i["alert"]["id"] for i in sub.drain()] == [silent.id]
    clock.now = T0 + 12
    live.ingest("alpha", batch(state("A1", T0 + 12, 45, 5.01)))
    (cleared,) = live.run_detection_cycle(T0 + 12).transitions
    assert cleared.id == silent.id and cleared.status == "cleared"


def test_a_configured_party_that_never_sends_is_silent(clock: Clock) -> None:
    cfg = LiveConfig.from_dict({"silence_after_s": 10, "parties": {"charlie": {}}})
    live = LiveService(None, cfg, clock)
    assert live.run_detection_cycle(T0 + 5).transitions == ()
    (a,) = live.run_detection_cycle(T0 + 11).transitions
    assert a.kind == AlertKind.PARTY_SILENT and a.inputs[0].id == "charlie"


def test_a_feed_that_ends_raises_a_system_alert(clock: Clock) -> None:
    live = LiveService(None, LiveConfig(silence_after_s=600), clock)
    feed = ListFeed(
        "replay:test", [batch(state("A1", T0, 45, 5)), batch(state("A1", T0 + 1, 45, 5.002))]
    )
    live.attach_feed("alpha", feed)
    for thread in live.inputs.feed_threads():  # it ends by itself once its batches are read
        thread.join(timeout=10)
    (v,) = live.picture("alpha", now=T0 + 1)
    assert v.t == T0 + 1
    kinds = {(a.kind, a.inputs[0].id) for a in live.run_detection_cycle(T0 + 1).transitions}
    assert (AlertKind.FEED_SILENT, "replay:test") in kinds
    (status,) = [f for f in live.feeds("alpha") if f.kind == "feed"]
    assert status.health.connected is False and status.health.messages == 2
    assert live.feeds("bravo") == []


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(sqlite_url)
    yield s
    s.close()


def test_transitions_and_deliveries_are_recorded(store: Store, clock: Clock) -> None:
    live = LiveService(store, LiveConfig(silence_after_s=600), clock)
    sub_a = live.subscribe("alpha")
    (raised,) = fly(live, clock, T0, 20_000)
    for item in sub_a.drain():
        live.record_delivery("alpha", item, "ws")
    live.flush_events()
    with store.read() as tx:
        events = tx.events(entity_type="live_alert", entity_id=raised.id)
    assert [e.operation for e in events] == ["raised", "delivered"]
    assert events[0].payload == raised.to_dict()
    assert events[1].payload == {"party": "alpha", "channel": "ws", "seq": 1, "status": "raised"}


class FailingFeed:
    """A real feed whose source breaks after one batch."""

    name = "sbs:broken"

    def batches(self) -> Iterator[TrackBatch]:
        yield batch(state("A1", T0, 45, 5))
        raise ConnectionResetError("peer closed the socket")

    def health(self) -> FeedHealth:
        return FeedHealth(True, 1, 1, 0, 0.0)


def test_a_failing_feed_never_stops_the_service(clock: Clock) -> None:
    live = LiveService(None, LiveConfig(silence_after_s=600), clock)
    live.attach_feed("alpha", FailingFeed())
    (thread,) = live.inputs.feed_threads()
    thread.join(timeout=10)
    (status,) = live.feeds("alpha")[1:]
    assert status.error == "ConnectionResetError: peer closed the socket"
    assert status.health.connected is False
    (a,) = [a for a in live.run_detection_cycle(T0).transitions if a.kind == "feed_silent"]
    assert "peer closed the socket" in a.message and a.parties == ("alpha",)
    # the batch read before the failure is in the picture, and pushes still work
    assert live.ingest("alpha", batch(state("A2", T0, 45, 6))).accepted == 1
    assert {v.track_id for v in live.picture("alpha")} == {"A1", "A2"}


def test_a_slow_subscriber_is_told_what_it_lost(live: LiveService) -> None:
    sub = live.hub.subscribe("alpha", maxlen=2)
    for k in range(4):
        sub.push({"type": "notice", "k": k})
    items = sub.drain()
    assert items == [
        {"type": "lagged", "lost": 2},
        {"type": "notice", "k": 2},
        {"type": "notice", "k": 3},
    ]
    sub.close()
    sub.push({"type": "notice", "k": 9})
    assert sub.drain() == []
