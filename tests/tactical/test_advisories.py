"""Resolution advice: applying the advised change resolves the conflict, one step less does
not; both sides are advised alike on a symmetric geometry; losses get no advice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.tactical import (
    DetectionParams,
    SeparationMinima,
    TrackStates,
    detect_conflicts,
    resolution_advice,
)
from tests.tactical.scenarios import appendix, head_on_50nm

PARAMS = DetectionParams(minima=SeparationMinima.from_nm_ft(5, 1000))


def changed(s: TrackStates, row: int, trk: float = 0, gs: float = 0, vs: float = 0) -> TrackStates:
    t, g, v = s.trk_deg.copy(), s.gs_mps.copy(), s.vs_mps.copy()
    t[row] += trk
    g[row] += gs
    v[row] += vs
    return TrackStates.from_arrays(s.track_id, s.party, s.t, s.lat, s.lon, s.alt_m, g, t, v)


def crossing() -> TrackStates:
    """A north-bound, B east-bound, converging on the same point at 300 s."""
    d = math.degrees(480 * 1852 / 3600 * 300 / 6_371_000.0)
    return TrackStates.from_arrays(
        ["A", "B"], ["p", "q"], [0, 0], [50.0 - d, 50.0],
        [5.0, 5.0 - d / math.cos(math.radians(50.0))], [9000.0, 9000.0],
        [480 * 1852 / 3600] * 2, [0.0, 90.0], [0.0, 0.0],
    )  # fmt: skip


@pytest.mark.parametrize("make", [head_on_50nm, crossing])
def test_advice_resolves_and_is_minimal(make: object) -> None:
    s = make()  # type: ignore[operator]
    c = detect_conflicts(s, PARAMS)
    assert len(c) == 1
    adv = resolution_advice(s, c, PARAMS)
    checks = [
        ("heading", adv.heading_a_deg[0], adv.heading_b_deg[0], 1.0, "trk"),
        ("speed", adv.speed_a_mps[0], adv.speed_b_mps[0], 2.5, "gs"),
        ("vs", adv.vs_a_mps[0], adv.vs_b_mps[0], 0.5, "vs"),
    ]
    advised = 0
    for _, da, db, step, field in checks:
        for row, delta in ((0, da), (1, db)):
            if math.isnan(delta):
                continue
            advised += 1
            assert len(detect_conflicts(changed(s, row, **{field: delta}), PARAMS)) == 0
            smaller = delta - math.copysign(step, delta)
            if smaller != 0:
                assert len(detect_conflicts(changed(s, row, **{field: smaller}), PARAMS)) == 1
    assert advised >= 4
    assert not math.isnan(adv.vs_a_mps[0])


def test_symmetric_geometry_gives_symmetric_advice() -> None:
    s = head_on_50nm()
    adv = resolution_advice(s, detect_conflicts(s, PARAMS), PARAMS)
    assert adv.heading_a_deg[0] == adv.heading_b_deg[0]
    assert adv.vs_a_mps[0] == adv.vs_b_mps[0] == pytest.approx(2.0)  # 1000 ft within 168.9 s
    assert np.isnan(adv.speed_a_mps[0])  # head-on: no speed change helps


def test_loss_of_separation_gets_no_advice_and_bad_limits_are_refused() -> None:
    s = appendix()["parallel_los"]
    c = detect_conflicts(s, PARAMS)
    adv = resolution_advice(s, c, PARAMS)
    assert len(adv) == 1 and np.isnan(adv.heading_a_deg[0]) and np.isnan(adv.vs_b_mps[0])
    with pytest.raises(InvalidInput, match="max_heading_deg"):
        resolution_advice(s, c, PARAMS, max_heading_deg=200)
