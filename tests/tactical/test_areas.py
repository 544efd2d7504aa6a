"""Area proximity, line crossings and conformance against their naive twins
(``tests/reference/naive_areas.py``) on random tracks, plus hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.tactical import (
    Line,
    ProtectedVolume,
    TrackStates,
    conformance,
    detect_area_proximity,
    detect_line_crossings,
)
from tests.reference.naive_areas import line_crossing, outside_distance, volume_times

LAT0, LON0 = 50.0, 5.0


def random_tracks(seed: int, n: int = 60, lon0: float = LON0) -> TrackStates:
    rng = np.random.default_rng(seed)
    return TrackStates.from_arrays(
        [f"t{k}" for k in range(n)],
        "p",
        rng.choice([100.0, 97.0, 90.0], n),
        LAT0 + rng.uniform(-0.4, 0.4, n),
        (lon0 + rng.uniform(-0.6, 0.6, n) + 180.0) % 360.0 - 180.0,
        rng.uniform(500.0, 4000.0, n),
        rng.uniform(0.0, 250.0, n),
        rng.uniform(0.0, 360.0, n),
        rng.choice([0.0, 0.0, 8.0, -12.0], n),
    )


def volumes(lon0: float = LON0) -> list[ProtectedVolume]:
    def lon(d: float) -> float:
        return (lon0 + d + 180.0) % 360.0 - 180.0

    return [
        ProtectedVolume("circle", center=(LAT0, lon(0.05)), radius_m=9000.0, lower_m=0.0,
                        upper_m=2500.0),
        ProtectedVolume("concave", polygon=[(49.9, lon(-0.3)), (50.15, lon(-0.3)),
                                            (50.15, lon(0.3)), (49.9, lon(0.3)),
                                            (50.05, lon(0.0))],
                        lower_m=1000.0, upper_m=3500.0, start=150.0, end=400.0),
        ProtectedVolume("high", center=(LAT0 - 0.2, lon(-0.2)), radius_m=15000.0,
                        lower_m=3000.0, upper_m=math.inf),
    ]  # fmt: skip


@pytest.mark.parametrize(("seed", "lon0"), [(1, LON0), (2, LON0), (3, 179.9), (4, -179.8)])
def test_area_proximity_equals_sampled_twin(seed: int, lon0: float) -> None:
    s = random_tracks(seed, lon0=lon0)
    vols = volumes(lon0)
    res = detect_area_proximity(s, vols, lookahead_s=300.0)
    assert res.now == 100.0
    got = {
        (int(t), int(v)): (res.t_entry[k], res.t_exit[k], bool(res.inside[k]))
        for k, (t, v) in enumerate(res.pairs.T)
    }
    expected = {}
    for k in range(len(s)):
        for v, vol in enumerate(vols):
            hit = volume_times(s, k, vol, 300.0, 100.0)
            if hit is not None:
                expected[(k, v)] = hit
    # sampling every 0.05 s can miss a stay shorter than a step: compare on the union, allowing
    # such grazes only
    for key in got.keys() | expected.keys():
        if key not in expected:
            assert got[key][1] - got[key][0] < 0.1, key
            continue
        if key not in got:
            assert expected[key][1] - expected[key][0] < 0.1, key
            continue
        e_in, e_out, e_inside = expected[key]
        g_in, g_out, g_inside = got[key]
        assert g_in == pytest.approx(e_in, abs=0.06)
        assert g_out == pytest.approx(e_out, abs=0.06)
        assert g_inside == e_inside
    assert len(expected) > 5


@pytest.mark.parametrize("seed", [5, 6])
def test_line_crossings_equal_intersection_twin(seed: int) -> None:
    s = random_tracks(seed)
    lines = [
        Line("border", [(49.7, 4.5), (50.0, 5.0), (50.3, 4.9), (50.4, 5.6)]),
        Line("short", [(50.0, 5.2), (50.0, 5.3)]),
    ]
    res = detect_line_crossings(s, lines, lookahead_s=400.0)
    got = {(int(t), int(v)): res.t_cross[k] for k, (t, v) in enumerate(res.pairs.T)}
    expected = {}
    for k in range(len(s)):
        for v, line in enumerate(lines):
            tau = line_crossing(s, k, line, 400.0, 100.0)
            if tau is not None:
                expected[(k, v)] = tau
    assert got.keys() == expected.keys()
    for key, tau in expected.items():
        assert got[key] == pytest.approx(tau, abs=1e-6)
    assert len(expected) > 3


def test_conformance_equals_distance_twin() -> None:
    s = random_tracks(7, n=30)
    vols = volumes()
    plans = {f"t{k}": [vols[k % 3], vols[(k + 1) % 3]] for k in range(0, 30, 2)}
    tol = 500.0
    res = conformance(s, plans, tolerance_m=tol, vertical_tolerance_m=50.0)
    for k in range(len(s)):
        plan = plans.get(f"t{k}")
        assert res.has_plan[k] == (plan is not None)
        if plan is None:
            assert not res.conforming[k] and math.isnan(res.horizontal_excess_m[k])
            continue
        best = math.inf
        for vol in plan:
            if (vol.start is not None and s.t[k] < vol.start) or (
                vol.end is not None and s.t[k] > vol.end
            ):
                continue
            h = max(0.0, outside_distance(vol, s.lat[k], s.lon[k]) - tol)
            v = max(0.0, vol.lower_m - s.alt_m[k] - 50.0, s.alt_m[k] - vol.upper_m - 50.0)
            best = min(best, math.hypot(h, v))
        if math.isinf(best):
            assert not res.conforming[k]
            continue
        # the twin's circle is a 2048-segment polygon: a few millimetres inside the true circle
        assert math.hypot(res.horizontal_excess_m[k], res.vertical_excess_m[k]) == pytest.approx(
            best, abs=0.05
        )
        assert res.conforming[k] == (best == 0.0) or best < 0.05


def test_hand_made_entry_times_and_inside_flag() -> None:
    s = TrackStates.from_arrays(
        ["east", "inside", "climber"], "p", [0, 0, 0], [50.0, 50.0, 50.0], [5.0, 5.3, 5.3],
        [3000.0, 3000.0, 0.0], [200.0, 0.0, 0.0], [90.0, 0.0, 0.0], [0.0, 0.0, 10.0],
    )  # fmt: skip
    circle = ProtectedVolume("c", center=(50.0, 5.3), radius_m=5000, lower_m=1000, upper_m=5000)
    res = detect_area_proximity(s, [circle], lookahead_s=600)
    rows = {int(t): k for k, t in enumerate(res.pairs[0])}
    dist = 6_371_000.0 * math.radians(0.3) * math.cos(math.radians(50.0))
    assert res.t_entry[rows[0]] == pytest.approx((dist - 5000) / 200, abs=1e-6)
    assert res.t_exit[rows[0]] == pytest.approx((dist + 5000) / 200, abs=1e-6)
    assert res.inside[rows[1]] and res.t_entry[rows[1]] == 0.0 and res.t_exit[rows[1]] == 600
    assert res.t_entry[rows[2]] == pytest.approx(100.0) and not res.inside[rows[2]]


def test_invalid_volumes_and_tracks() -> None:
    with pytest.raises(InvalidInput, match="polygon"):
        ProtectedVolume("x")
    with pytest.raises(InvalidInput, match="radius_m"):
        ProtectedVolume("x", center=(0.0, 0.0), radius_m=-1)
    with pytest.raises(InvalidInput, match="polygon"):
        ProtectedVolume("x", polygon=[(0.0, 0.0), (1.0, 1.0)])
    with pytest.raises(InvalidInput, match="lower_m"):
        ProtectedVolume("x", center=(0.0, 0.0), radius_m=1, lower_m=10, upper_m=0)
    with pytest.raises(InvalidInput, match="points"):
        Line("l", [(0.0, 0.0)])
    s = TrackStates.from_arrays(["a"], "p", [0], [math.nan], [0], [0], [0], [0], [0])
    res = detect_area_proximity(s, [ProtectedVolume("c", center=(0.0, 0.0), radius_m=1e5)])
    assert list(res.invalid) == [0] and len(res) == 0
