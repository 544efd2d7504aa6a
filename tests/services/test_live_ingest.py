"""Live track pictures: latest state per track, stale reports, plausibility flags, coasting and
drop with notice, two parties reporting one aircraft."""

from __future__ import annotations

import pytest

from sharedsky.errors import InvalidInput
from sharedsky.model.alerts import AlertKind, LiveLevel
from sharedsky.services.live import LiveConfig, LiveService
from tests.services.live_helpers import T0, Clock, batch, east_of, state


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def live(clock: Clock) -> LiveService:
    return LiveService(
        None,
        LiveConfig(coast_after_s=5, drop_after_s=60, silence_after_s=600, clear_after_s=0),
        clock,
    )


def by_id(views: list) -> dict[tuple[str, str], object]:
    return {(v.party, v.track_id): v for v in views}


def test_latest_state_per_track_and_stale_reports(live: LiveService) -> None:
    r = live.ingest("alpha", batch(state("A1", T0 - 2, 45, 5), state("A1", T0 - 1, 45, 5.001)))
    assert (r.accepted, r.stale, r.flagged, r.rejected) == (2, 0, 0, ())
    r = live.ingest("alpha", batch(state("A1", T0 - 3, 45, 4.999)))
    assert r.stale == 1
    (v,) = live.picture("alpha")
    assert v.t == T0 - 1 and v.lon == 5.001 and v.age_s == pytest.approx(1.0)
    assert v.status == "live" and v.own and v.flags == ()


def test_rejects_of_a_batch_pass_through_and_the_rest_is_kept(live: LiveService) -> None:
    b = batch(state("A1", T0, 45, 5), {"track_id": "A2", "t": T0, "lat": 95, "lon": 5})
    r = live.ingest("alpha", b)
    assert r.accepted == 1 and len(r.rejected) == 1
    assert r.rejected[0].index_or_line == 1 and "lat" in r.rejected[0].reason
    assert [v.track_id for v in live.picture("alpha")] == ["A1"]


def test_party_names_are_checked(live: LiveService) -> None:
    with pytest.raises(InvalidInput, match="party"):
        live.ingest("", batch(state("A1", T0, 45, 5)))


def test_the_same_aircraft_from_two_parties_stays_two_tracks(live: LiveService) -> None:
    live.ingest("alpha", batch(state("4CA123", T0, 45, 5)))
    live.ingest("bravo", batch(state("4CA123", T0, 45, 5.0001)))
    seen = by_id(live.picture("alpha"))
    assert set(seen) == {("alpha", "4CA123"), ("bravo", "4CA123")}
    report = live.run_detection_cycle(T0)
    # one aircraft seen twice is not a conflict with itself (documented rule)
    assert not [a for a in report.transitions if a.kind == AlertKind.CONFLICT]


@pytest.mark.parametrize(
    ("second", "flag"),
    [
        (state("A1", T0, 45, 5, gs=1100.0), "speed"),  # above Mach 3
        (state("A1", T0, 47.5, 5), "jump"),  # 278 km in 1 s
        (state("A1", T0 + 60, 45, 5.002), "future"),  # a minute ahead of server time
    ],
)
def test_implausible_reports_are_flagged_not_trusted(
    live: LiveService, clock: Clock, second: dict, flag: str
) -> None:
    live.ingest("alpha", batch(state("A1", T0 - 1, 45, 5)))
    r = live.ingest("alpha", batch(second))
    assert r.flagged == 1
    (v,) = [v for v in live.picture("alpha") if v.track_id == "A1"]
    assert flag in v.flags
    # a bravo aircraft right on top of it: no conflict is computed with untrusted data, a SYSTEM
    # alert says the track cannot be assessed, to alpha only
    live.ingest("bravo", batch(state("B1", T0, second["lat"], second["lon"], trk=270)))
    report = live.run_detection_cycle(T0)
    kinds = {(a.kind, a.level, a.parties) for a in report.transitions}
    assert (AlertKind.IMPLAUSIBLE, LiveLevel.SYSTEM, ("alpha",)) in kinds
    assert not [a for a in report.transitions if a.kind == AlertKind.CONFLICT]


def test_a_track_recovers_when_its_reports_are_consistent_again(live: LiveService) -> None:
    live.ingest("alpha", batch(state("A1", T0 - 2, 45, 5)))
    live.ingest("alpha", batch(state("A1", T0 - 1, 47.5, 5)))  # jump
    r = live.run_detection_cycle(T0 - 1)
    (raised,) = [a for a in r.transitions if a.kind == AlertKind.IMPLAUSIBLE]
    live.ingest("alpha", batch(state("A1", T0, 47.5, east_of(5, 47.5, 200))))
    r = live.run_detection_cycle(T0)
    (cleared,) = [a for a in r.transitions if a.kind == AlertKind.IMPLAUSIBLE]
    assert cleared.id == raised.id and cleared.status == "cleared"
    assert live.picture("alpha")[0].flags == ()


def test_jumps_inside_one_batch_are_checked_in_time_order(live: LiveService) -> None:
    # rows out of order in the batch: sorted by time, the step 45.0 -> 45.001 is fine
    r = live.ingest("alpha", batch(state("A1", T0, 45.001, 5), state("A1", T0 - 1, 45.0, 5)))
    assert r.flagged == 0 and live.picture("alpha")[0].t == T0


def test_tracks_coast_then_drop_with_a_notice(live: LiveService, clock: Clock) -> None:
    sub = live.subscribe("alpha")
    live.ingest("alpha", batch(state("A1", T0, 45, 5)))
    clock.advance(6)
    (v,) = live.picture("alpha")
    assert v.status == "coasting" and v.age_s == pytest.approx(6)
    live.run_detection_cycle(T0 + 59)
    assert len(live.picture("alpha", now=T0 + 59)) == 1
    live.run_detection_cycle(T0 + 61)
    assert live.picture("alpha", now=T0 + 61) == []
    notices = [i for i in sub.drain() if i["type"] == "notice"]
    assert notices == [
        {
            "type": "notice",
            "notice": "track_dropped",
            "party": "alpha",
            "track_id": "A1",
            "last_t": "2026-11-25T12:00:00Z",
            "time": "2026-11-25T12:01:01Z",
        }
    ]


def test_batches_of_many_tracks_are_merged_by_id(live: LiveService) -> None:
    n = 5000
    recs = [state(f"T{k:05d}", T0, 40 + k * 1e-3, 5) for k in range(n)]
    live.ingest("alpha", batch(*recs))
    recs2 = [state(f"T{k:05d}", T0 + 1, 40 + k * 1e-3, 5.001) for k in range(0, n, 2)]
    recs2.append(state("NEW", T0 + 1, 10, 10))
    r = live.ingest("alpha", batch(*recs2))
    assert r.accepted == n // 2 + 1 and r.stale == 0
    views = {v.track_id: v for v in live.picture("alpha", now=T0 + 1)}
    assert len(views) == n + 1
    assert views["T00002"].lon == 5.001 and views["T00001"].lon == 5
    assert views["NEW"].lat == 10


def test_partial_reports_carry_the_last_known_altitude_and_velocity(clock: Clock) -> None:
    live = LiveService(None, LiveConfig(silence_after_s=600, carry_forward_s=10), clock)
    live.ingest("alpha", batch(state("A1", T0 - 1, 45, 5, alt=3000, gs=200, trk=90, vs=2)))
    partial = {"track_id": "A1", "t": T0, "lat": 45.0, "lon": 5.003}
    live.ingest("alpha", batch(partial))
    (v,) = live.picture("alpha")
    assert (v.t, v.lon) == (T0, 5.003)
    assert (v.alt_m, v.gs_mps, v.trk_deg, v.vs_mps) == (3000, 200, 90, 2)
    report = live.run_detection_cycle(T0)
    assert not [a for a in report.transitions if a.kind == AlertKind.CANNOT_ASSESS]

    # a new altitude replaces the carried one; velocity keeps its own (older) time
    live.ingest("alpha", batch({**partial, "t": T0 + 5, "alt_m": 3100.0}))
    (v,) = live.picture("alpha")
    assert (v.alt_m, v.gs_mps) == (3100, 200)

    # beyond carry_forward_s of the velocity's own time, the velocity is missing again
    clock.now = T0 + 12
    live.ingest("alpha", batch({**partial, "t": T0 + 12, "alt_m": 3100.0}))
    (v,) = live.picture("alpha")
    assert v.alt_m == 3100 and v.gs_mps is None and v.vs_mps is None
    report = live.run_detection_cycle(T0 + 12)
    assert [a.kind for a in report.transitions] == [AlertKind.CANNOT_ASSESS]


def test_carry_forward_off_keeps_partial_reports_partial(clock: Clock) -> None:
    live = LiveService(None, LiveConfig(silence_after_s=600, carry_forward_s=0), clock)
    live.ingest("alpha", batch(state("A1", T0 - 1, 45, 5)))
    live.ingest("alpha", batch({"track_id": "A1", "t": T0, "lat": 45.0, "lon": 5.003}))
    (v,) = live.picture("alpha")
    assert v.alt_m is None and v.gs_mps is None
