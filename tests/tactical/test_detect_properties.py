"""Property tests: the engine returns exactly the naive twin's pairs and numbers on random
scenarios (mid-latitudes, across the antimeridian, near the poles; level and quantised
altitudes, identical velocities, stale and NaN rows), and the same answer for any row order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedsky.tactical import (
    DetectionParams,
    LevelOccupancy,
    MinimaTable,
    SeparationMinima,
    TrackStates,
    detect_conflicts,
)
from sharedsky.units import FT_TO_M, NM_TO_M
from tests.reference.naive_cpa import naive_detect

CENTRES = [(50.0, 5.0), (0.0, 179.95), (-0.2, -179.9), (89.7, 40.0), (-89.9, -120.0), (-45, -60)]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[TrackStates, DetectionParams]:
    lat0, lon0 = draw(st.sampled_from(CENTRES))
    n = draw(st.integers(2, 14))
    spread = draw(st.sampled_from([5_000.0, 30_000.0, 120_000.0]))
    rows: dict[str, list[object]] = {k: [] for k in
                                     ("id", "party", "t", "lat", "lon", "alt", "gs", "trk", "vs",
                                      "pacc")}  # fmt: skip
    for k in range(n):
        x = draw(st.floats(-spread, spread))
        y = draw(st.floats(-spread, spread))
        lat = max(-90.0, min(90.0, lat0 + math.degrees(y / 6_371_000.0)))
        coslat = max(math.cos(math.radians(lat)), 1e-3)
        lon = (lon0 + math.degrees(x / (6_371_000.0 * coslat)) + 180.0) % 360.0 - 180.0
        kind = draw(st.sampled_from(["level", "noisy", "free", "copy"]))
        if kind == "copy" and k > 0:  # identical velocity and altitude rate to the previous
            gs, trk, vs = rows["gs"][-1], rows["trk"][-1], rows["vs"][-1]
            alt = float(rows["alt"][-1]) + draw(st.sampled_from([0.0, 200.0, 1000 * FT_TO_M]))  # type: ignore[arg-type]
        else:
            gs = draw(st.sampled_from([0.0, 120.0, 230.0])) if kind == "level" else draw(
                st.floats(0.0, 300.0))  # fmt: skip
            trk = draw(st.floats(0.0, 360.0))
            level = draw(st.integers(280, 300)) * 100 * FT_TO_M
            if kind == "level":
                alt, vs = float(round(level / 304.8) * 304.8), 0.0
            elif kind == "noisy":
                alt = level + draw(st.sampled_from([-150.0, -25.0, 0.0, 25.0, 75.0])) * FT_TO_M
                vs = draw(st.sampled_from([0.0, 0.3, -0.6]))
            else:
                alt = draw(st.floats(8_500.0, 9_300.0))
                vs = draw(st.sampled_from([0.0, 2.5, -5.0, 15.0, -25.0]))
        age = draw(st.sampled_from([0.0, 0.0, 0.0, 4.0, 45.0]))
        rows["id"].append(f"t{k}")
        rows["party"].append(draw(st.sampled_from(["p", "q", "r"])))
        rows["t"].append(100.0 - age)
        rows["lat"].append(lat)
        rows["lon"].append(lon)
        rows["alt"].append(alt)
        rows["gs"].append(gs)
        rows["trk"].append(trk)
        rows["vs"].append(vs)
        rows["pacc"].append(draw(st.sampled_from([math.nan, 0.0, 150.0])))
    if draw(st.booleans()):
        rows["vs"][draw(st.integers(0, n - 1))] = math.nan  # a bad row, flagged
    s = TrackStates.from_arrays(
        rows["id"], rows["party"], rows["t"], rows["lat"], rows["lon"], rows["alt"],
        rows["gs"], rows["trk"], rows["vs"], pos_accuracy_m=rows["pacc"],
    )  # fmt: skip
    minima = draw(
        st.sampled_from(
            [
                MinimaTable(),
                MinimaTable.uniform(SeparationMinima.from_nm_ft(3, 1000)),
                MinimaTable.build(
                    per_party_pair={("p", "q"): SeparationMinima(2 * NM_TO_M, 500 * FT_TO_M, 90)}
                ),
            ]
        )
    )
    params = DetectionParams(
        minima=minima,
        lookahead_s=draw(st.sampled_from([0.0, 60.0, 300.0, 900.0])),
        all_pairs=draw(st.booleans()),
        levels=LevelOccupancy(enabled=draw(st.booleans())),
    )
    return s, params


NUMBERS = [("t_in", "t_in", 1e-4), ("t_out", "t_out", 1e-4), ("t_cpa", "t_cpa", 1e-4),
           ("d_cpa_m", "d_cpa", 1e-3), ("dalt_cpa_m", "dalt_cpa", 1e-6)]  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_engine_equals_naive_twin(case: tuple[TrackStates, DetectionParams]) -> None:
    s, params = case
    c = detect_conflicts(s, params)
    engine = {tuple(p): k for k, p in enumerate(c.pairs.T.tolist()) if not c.cannot_assess[k]}
    exact, stale, now = naive_detect(s, params)
    strict, _, _ = naive_detect(s, params, scale_r=1 - 1e-9, scale_h=1 - 1e-9)
    loose, _, _ = naive_detect(s, params, scale_r=1 + 1e-9, scale_h=1 + 1e-9)
    assert c.now == now
    assert set(strict) <= set(engine) <= set(loose)
    for key, k in engine.items():
        ref = exact.get(key) or loose[key]
        assert bool(c.los[k]) == ref.los or key not in strict
        for mine, theirs, tol in NUMBERS:
            assert getattr(c, mine)[k] == pytest.approx(getattr(ref, theirs), abs=tol), mine
        assert c.horizontal_m[k] == pytest.approx(ref.radius)
        assert c.lookahead_s[k] == ref.lookahead
    # every pair with a stale track that could conflict is reported as cannot-assess
    cannot = {tuple(p) for p in c.pairs[:, c.cannot_assess].T.tolist()}
    assert stale <= cannot
    assert all(i in set(c.stale) or j in set(c.stale) for i, j in cannot)
    assert all(0 <= p[0] < p[1] < len(s) for p in c.pairs.T)


@settings(max_examples=120, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_answer(case: tuple[TrackStates, DetectionParams],
                                              rnd: object) -> None:  # fmt: skip
    s, params = case
    perm = list(range(len(s)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    a = detect_conflicts(s, params)
    b = detect_conflicts(s.select(np.array(perm, dtype=np.int64)), params)

    def rows(c: object, states: TrackStates) -> dict[frozenset[str], tuple[float, ...]]:
        out = {}
        for k, (i, j) in enumerate(c.pairs.T.tolist()):  # type: ignore[attr-defined]
            out[frozenset((states.track_id[i], states.track_id[j]))] = tuple(
                float(getattr(c, f)[k])
                for f in ("t_in", "t_out", "t_cpa", "d_cpa_m", "dalt_cpa_m", "los")
            )
        return out

    ra = rows(a, s)
    rb = rows(b, s.select(np.array(perm, dtype=np.int64)))
    assert ra.keys() == rb.keys()
    for key, va in ra.items():  # bit-identical numbers (NaN for cannot-assess rows)
        assert np.array_equal(np.array(va), np.array(rb[key]), equal_nan=True)


def test_worldwide_traffic_uses_the_hashed_grid_and_equals_the_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tracks over the whole globe (clusters so that there are conflicts): the grid is too
    sparse for dense buckets and falls back to hashing; the answer is still the twin's."""
    from sharedsky.tactical import _kernels

    seen: list[bool] = []
    real = _kernels.grid_pairs

    def spy(*args: object) -> object:
        seen.append(bool(args[25]))  # the ``dense`` argument
        return real(*args)

    monkeypatch.setattr(_kernels, "grid_pairs", spy)
    rng = np.random.default_rng(11)
    n_clusters, per = 40, 6
    clat = np.degrees(np.arcsin(rng.uniform(-1, 1, n_clusters)))
    clon = rng.uniform(-180, 180, n_clusters)
    lat = np.clip(np.repeat(clat, per) + rng.normal(0, 0.1, n_clusters * per), -90, 90)
    lon = (np.repeat(clon, per) + rng.normal(0, 0.1, n_clusters * per) + 180) % 360 - 180
    n = lat.size
    s = TrackStates.from_arrays(
        [f"w{k}" for k in range(n)], rng.choice(["p", "q"], n), np.zeros(n), lat, lon,
        np.round(rng.uniform(9000, 10000, n) / 304.8) * 304.8, rng.uniform(100, 250, n),
        rng.uniform(0, 360, n), rng.choice([0.0, 5.0, -5.0], n),
    )  # fmt: skip
    params = DetectionParams(all_pairs=True)
    c = detect_conflicts(s, params)
    assert seen == [False]
    exact, _, _ = naive_detect(s, params)
    assert {tuple(p) for p in c.pairs.T.tolist()} == set(exact)
    assert len(exact) > 10
