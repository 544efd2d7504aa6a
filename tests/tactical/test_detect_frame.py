"""The compiled detection frame and broad phase: tuning the grid never changes a result, the
reused workspace never leaks one call's data into the next, bad accuracies name the field."""

from __future__ import annotations

import numpy as np
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.tactical import (
    DetectionParams,
    MinimaTable,
    SeparationMinima,
    TrackStates,
    detect_conflicts,
)
from sharedsky.tactical import detect as detect_module

FIELDS = (
    "pairs", "t_in", "t_out", "t_cpa", "d_cpa_m", "dalt_cpa_m", "los", "cannot_assess", "level",
    "horizontal_m", "vertical_m", "lookahead_s", "invalid", "stale",
)  # fmt: skip


def mixed(n: int, seed: int) -> TrackStates:
    """Dense regional traffic with everything that reaches the numbers: ages (extrapolation,
    margins, stale tracks), stated accuracies, three parties, level-quantised altitudes with
    noise, invalid rows."""
    rng = np.random.default_rng(seed)
    lat = 50.0 + rng.uniform(-1.2, 1.2, n)
    lon = 5.0 + rng.uniform(-2.0, 2.0, n)
    alt = rng.uniform(3000.0, 12000.0, n)
    level = rng.random(n) < 0.5
    alt[level] = np.round(alt[level] / 304.8) * 304.8 + rng.uniform(-40.0, 40.0, level.sum())
    vs = np.where(level, 0.0, rng.uniform(-12.0, 12.0, n))
    lat[rng.random(n) < 0.01] = np.nan
    return TrackStates.from_arrays(
        [f"T{k}" for k in range(n)], rng.choice(["a", "b", "c"], n),
        1.7e9 - rng.uniform(0.0, 50.0, n), lat, lon, alt, rng.uniform(60.0, 260.0, n),
        rng.uniform(0.0, 360.0, n), vs,
        np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0.0, 400.0, n)),
        np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0.0, 8.0, n)),
    )  # fmt: skip


def params() -> DetectionParams:
    table = MinimaTable.build(per_party_pair={("a", "b"): SeparationMinima(5556.0, 304.8, 120.0)})
    return DetectionParams(minima=table, all_pairs=True, now=1.7e9)


def assert_same(a: object, b: object) -> None:
    for f in FIELDS:
        x, y = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
        assert x.shape == y.shape, f
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), f
        else:
            assert (x == y).all(), f


@pytest.mark.parametrize(
    ("fraction", "r_factor", "alt_factor"), [(0.4, 1.0, 2.0), (3.0, 3.0, 9.0), (1.0, 0.2, 1.0)]
)
def test_grid_cell_sizes_change_no_bit_of_the_result(
    monkeypatch: pytest.MonkeyPatch, fraction: float, r_factor: float, alt_factor: float
) -> None:
    """Cell sizes decide only where the broad phase finds a pair: every row (cannot-assess rows
    included) and every bit of every number stay the same."""
    s, p = mixed(2500, 3), params()
    ref = detect_conflicts(s, p)
    assert ref.cannot_assess.sum() > 10 and (~ref.cannot_assess).sum() > 100
    assert len(ref.stale) > 100 and len(ref.invalid) > 5
    monkeypatch.setattr(detect_module, "CELL_FRACTION", fraction)
    monkeypatch.setattr(detect_module, "CELL_R_FACTOR", r_factor)
    monkeypatch.setattr(detect_module, "CELL_ALT_FACTOR", alt_factor)
    other = detect_conflicts(s, p)
    assert_same(ref, other)
    assert other.candidates == ref.candidates


def test_workspace_reuse_across_sizes_gives_fresh_answers() -> None:
    """The per-thread scratch arrays are reused and only grow: a call after a larger or a
    smaller one answers as the first call did."""
    big, small, p = mixed(3000, 5), mixed(400, 6), params()
    first_big = detect_conflicts(big, p)
    first_small = detect_conflicts(small, p)
    assert_same(detect_conflicts(big, p), first_big)
    assert_same(detect_conflicts(small, p), first_small)


@pytest.mark.parametrize(
    ("pos", "vel"), [(-100.0, 0.0), (np.inf, 0.0), (0.0, -20.0), (0.0, np.inf)]
)
def test_bad_accuracies_name_the_field(pos: float, vel: float) -> None:
    s = TrackStates.from_arrays(
        ["A", "B"], "p", [0.0, 0.0], [50.0, 50.01], [5.0, 5.0], [9000.0, 9000.0],
        [200.0, 200.0], [90.0, 270.0], [0.0, 0.0], [0.0, pos], [0.0, vel],
    )  # fmt: skip
    # margins: accuracy + (velocity accuracy + 5 m/s) * 10 s of age
    with pytest.raises(InvalidInput) as exc:
        detect_conflicts(s, DetectionParams(now=10.0))
    assert exc.value.field == "pos_accuracy_m"
