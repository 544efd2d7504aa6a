"""Scanning recordings: episode merging, and the scan against hand-made and real recordings.

Expected losses of separation on the real recording are computed here by an independent
brute-force check (haversine distance and altitude difference of every pair at every step), not
by the engine.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.analysis import (
    EpisodeMerger,
    complete_rows,
    current_separation,
    scan,
    states_from_table,
)
from sharedsky.errors import InvalidInput
from sharedsky.tactical import DetectionParams, LevelOccupancy, SeparationMinima, TrackStates
from sharedsky.units import EARTH_RADIUS_M, FT_TO_M, KT_TO_MPS, NM_TO_M

T0 = 1_633_608_000.0
R = 5 * NM_TO_M
H = 1000 * FT_TO_M


# -- EpisodeMerger --------------------------------------------------------------------------------
def _step(m: EpisodeMerger, t: float, pairs: list[tuple[str, str, float, float]]) -> None:
    m.add_step(
        t,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        ["P" + p[0] for p in pairs],
        ["P" + p[1] for p in pairs],
        [p[2] for p in pairs],
        [p[3] for p in pairs],
    )


def test_merger_one_episode_per_contiguous_loss_with_closest_approach() -> None:
    m = EpisodeMerger(max_gap_s=1.0)
    _step(m, 0.0, [])
    _step(m, 1.0, [("a", "b", 9000.0, 100.0)])
    _step(m, 2.0, [("b", "a", 4000.0, 250.0)])  # same pair seen from the other side
    _step(m, 3.0, [("a", "b", 6000.0, 50.0)])
    _step(m, 4.0, [])
    (ep,) = m.finish()
    assert (ep.id_a, ep.id_b, ep.party_a, ep.party_b) == ("a", "b", "Pa", "Pb")
    assert (ep.start, ep.end, ep.steps, ep.duration_s) == (1.0, 3.0, 3, 2.0)
    assert (ep.t_closest, ep.d_closest_m, ep.dalt_closest_m) == (2.0, 4000.0, 250.0)
    assert ep.min_dalt_m == 50.0


def test_merger_gap_splits_or_bridges() -> None:
    seen = [0.0, 1.0, 2.0, 5.0, 6.0]
    for gap, expected in ((1.0, [(0.0, 2.0), (5.0, 6.0)]), (3.0, [(0.0, 6.0)])):
        m = EpisodeMerger(max_gap_s=gap)
        for t in range(7):
            _step(m, float(t), [("x", "y", 1.0, 1.0)] if float(t) in seen else [])
        assert [(e.start, e.end) for e in m.finish()] == expected


def test_merger_keeps_pairs_apart_and_sorts_by_start() -> None:
    m = EpisodeMerger(max_gap_s=1.0)
    _step(m, 0.0, [("c", "d", 1.0, 1.0)])
    _step(m, 1.0, [("a", "b", 1.0, 1.0), ("c", "d", 1.0, 1.0)])
    eps = m.finish()
    assert [(e.id_a, e.start, e.steps) for e in eps] == [("c", 0.0, 2), ("a", 1.0, 1)]


def test_merger_refuses_time_going_back_and_bad_gap() -> None:
    m = EpisodeMerger(max_gap_s=1.0)
    _step(m, 5.0, [])
    with pytest.raises(InvalidInput, match="time order"):
        _step(m, 4.0, [])
    with pytest.raises(InvalidInput, match="max_gap_s"):
        EpisodeMerger(max_gap_s=-1.0)


# -- scan on a hand-made recording ------------------------------------------------------------
def head_on_recording(start_nm: float = 12.1, seconds: int = 100) -> pd.DataFrame:
    """Two aircraft head-on along the equator at FL300, 450 kt each (closing 0.25 NM/s), one
    state per second; their distance is ``start_nm − 0.25 t`` NM until they pass."""
    rows = []
    v = 450 * KT_TO_MPS
    x0 = start_nm * NM_TO_M
    for k in range(seconds + 1):
        for ident, x, trk in (("aaa001", v * k, 90.0), ("bbb002", x0 - v * k, 270.0)):
            rows.append(
                {
                    "timestamp": T0 + k,
                    "icao24": ident,
                    "latitude": 0.0,
                    "longitude": math.degrees(x / EARTH_RADIUS_M),
                    "altitude": 30000.0,
                    "groundspeed": 450.0,
                    "track": trk,
                    "vertical_rate": 0.0,
                }
            )
    return pd.DataFrame(rows)


def test_scan_reports_the_head_on_loss_once() -> None:
    states = states_from_table(head_on_recording())
    calls: list[tuple[int, int]] = []
    result = scan(states, step_s=1.0, progress=lambda d, t: calls.append((d, t)))
    assert result.steps == 101 and calls[-1] == (101, 101) and len(calls) == 101
    (ep,) = result.episodes
    # distance 12.1 − 0.25 t NM is below 5 NM for 28.4 < t < 68.4: steps 29..68
    assert (ep.id_a, ep.id_b) == ("aaa001", "bbb002")
    assert (ep.start - T0, ep.end - T0, ep.steps) == (29.0, 68.0, 40)
    assert ep.t_closest - T0 == 48.0
    assert ep.d_closest_m == pytest.approx(0.1 * NM_TO_M, abs=1.0)
    assert ep.dalt_closest_m == pytest.approx(0.0, abs=1e-6)
    frame = result.to_frame()
    assert list(frame["steps"]) == [40]


def test_scan_step_and_window() -> None:
    states = states_from_table(head_on_recording())
    result = scan(states, step_s=10.0, start=T0 + 20, end=T0 + 90)
    assert result.steps == 8
    (ep,) = result.episodes
    assert (ep.start - T0, ep.end - T0, ep.steps) == (30.0, 60.0, 4)
    with pytest.raises(InvalidInput, match="step_s"):
        scan(states, step_s=0.0)


def test_scan_skips_incomplete_rows_and_stale_tracks() -> None:
    df = head_on_recording()
    df.loc[df["icao24"] == "bbb002", "altitude"] = np.nan  # b never has a complete state
    states = states_from_table(df)
    assert int(complete_rows(states).sum()) == 101
    result = scan(states)
    assert result.episodes == [] and result.skipped_rows == 101
    # a track whose last state is older than max_age_s is left out of later steps
    df = head_on_recording()
    df = df[~((df["icao24"] == "bbb002") & (df["timestamp"] > T0 + 30))]
    result = scan(states_from_table(df), max_age_s=5.0)
    (ep,) = result.episodes
    assert ep.end - T0 == 35.0  # b's state at 30 s is extrapolated until it is 5 s old


# -- scan on the real recording ----------------------------------------------------------------
# 2021-10-07 12:03:30-12:08:00 UTC of traffic_quickstart: 25 aircraft, ~6 000 states, including
# a parallel-departure loss of separation (5 NM / 1000 ft) between 3949ea and 3965af.
EXCERPT = (1_633_608_210_000, 1_633_608_480_000)


@pytest.fixture(scope="module")
def quickstart_excerpt(shared_dir: Path) -> pd.DataFrame:
    raw = pd.read_json(
        shared_dir / "data" / "adsb" / "traffic_quickstart.json.gz", orient="records", dtype=False
    )
    keep = (raw["timestamp"] >= EXCERPT[0]) & (raw["timestamp"] < EXCERPT[1])
    return raw[keep].reset_index(drop=True)


def _brute_force_los(
    states: TrackStates, now: float, max_age: float
) -> tuple[dict[tuple[str, str], bool], set[tuple[str, str]]]:
    """Pairs surely in loss (margin > 10 m / 0.5 m) and pairs possibly in loss at ``now``."""
    ok = complete_rows(states) & (states.t <= now) & (states.t >= now - max_age)
    sub = states.select(ok).latest(now)
    ids = sub.track_id
    n = len(sub)
    sure: dict[tuple[str, str], bool] = {}
    maybe: set[tuple[str, str]] = set()
    for i in range(n):
        for j in range(i + 1, n):
            d, dz = current_separation(sub, np.array([i]), np.array([j]), now)
            key = (min(ids[i], ids[j]), max(ids[i], ids[j]))
            if d[0] < R + 10 and dz[0] < H + 0.5:
                maybe.add(key)
                if d[0] < R - 10 and dz[0] < H - 0.5:
                    sure[key] = True
    return sure, maybe


@pytest.mark.slow
def test_scan_matches_brute_force_on_real_recording(quickstart_excerpt: pd.DataFrame) -> None:
    states = states_from_table(quickstart_excerpt)
    params = DetectionParams(
        minima=SeparationMinima(R, H), levels=LevelOccupancy(enabled=False), all_pairs=True
    )
    result = scan(states, params, step_s=5.0, max_gap_s=5.0)
    assert result.steps > 50
    assert result.episodes, "the excerpt holds at least one loss of separation"
    observed: dict[tuple[str, str], set[float]] = {}
    for ep in result.episodes:
        steps = np.arange(ep.start, ep.end + 1e-6, 5.0)
        assert len(steps) == ep.steps
        observed.setdefault((ep.id_a, ep.id_b), set()).update(steps.tolist())
    checked = 0
    for k in range(result.steps):
        now = result.start + 5.0 * k
        sure, maybe = _brute_force_los(states, now, 30.0)
        for key in sure:
            assert now in observed.get(key, set()), (key, now)
        for key, times in observed.items():
            if now in times:
                assert key in maybe, (key, now)
                checked += 1
    assert checked > 0
    assert ("3949ea", "3965af") in observed
