"""Conflict detection on hand-made geometries: tactical.md's appendix, every degenerate case,
minima rules, level occupancy, data quality, NaN policy, alert levels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sharedsky.errors import InvalidInput
from sharedsky.tactical import (
    AlertThresholds,
    DataQuality,
    DetectionParams,
    LevelOccupancy,
    MinimaTable,
    SeparationMinima,
    TrackStates,
    classify,
    detect_conflicts,
)
from sharedsky.units import FT_TO_M, NM_TO_M
from tests.reference.naive_cpa import naive_detect
from tests.tactical.scenarios import APPENDIX_EXPECTED, appendix, head_on_50nm, states

FIVE_NM = SeparationMinima.from_nm_ft(5, 1000)


def only_row(states_: TrackStates, params: DetectionParams) -> dict[str, float]:
    c = detect_conflicts(states_, params)
    assert len(c) == 1, c.to_frame(states_)
    return {
        k: getattr(c, k)[0]
        for k in ("t_in", "t_out", "t_cpa", "d_cpa_m", "dalt_cpa_m", "los", "level")
    }


def swapped(s: TrackStates) -> TrackStates:
    return s.select(np.arange(len(s))[::-1])


@pytest.mark.parametrize("name", list(APPENDIX_EXPECTED))
def test_appendix_geometries(name: str) -> None:
    s = appendix()[name]
    params = DetectionParams(minima=FIVE_NM)
    expected = APPENDIX_EXPECTED[name]
    for variant in (s, swapped(s)):
        c = detect_conflicts(variant, params)
        ref, _, _ = naive_detect(variant, params)
        assert {tuple(p) for p in c.pairs.T.tolist()} == set(ref)
        if expected is None:
            assert len(c) == 0
            continue
        conflict, los, t_cpa, t_in, d_cpa_nm = expected
        assert len(c) == 1 and conflict
        assert bool(c.los[0]) is los
        assert c.t_cpa[0] == pytest.approx(t_cpa, abs=0.06)
        assert c.t_in[0] == pytest.approx(t_in, abs=0.06)
        assert c.d_cpa_m[0] / NM_TO_M == pytest.approx(d_cpa_nm, abs=0.01)


def test_crossing_miss_distance_is_10nm() -> None:
    s = appendix()["crossing_miss_10nm"]
    row = only_row(s, DetectionParams(minima=SeparationMinima.from_nm_ft(20, 1000)))
    assert row["d_cpa_m"] / NM_TO_M == pytest.approx(10.0, abs=0.2)  # flat construction


def test_head_on_numbers_and_symmetry_are_exact() -> None:
    s = head_on_50nm()
    a = detect_conflicts(s, DetectionParams(minima=FIVE_NM))
    b = detect_conflicts(swapped(s), DetectionParams(minima=FIVE_NM))
    for k in ("t_in", "t_out", "t_cpa", "d_cpa_m", "dalt_cpa_m"):
        assert getattr(a, k)[0] == getattr(b, k)[0]  # bit-identical from either side
    closing = 2 * 480 * NM_TO_M / 3600
    assert a.t_out[0] - a.t_in[0] == pytest.approx(2 * 5 * NM_TO_M / closing, rel=1e-3)
    assert a.level[0] == "CAUTION"


def test_identical_velocities_in_los_conflict_for_the_whole_window() -> None:
    s = appendix()["parallel_los"]
    row = only_row(s, DetectionParams(minima=FIVE_NM, lookahead_s=300.0))
    assert row["los"] and row["t_in"] == 0.0 and row["t_out"] == 300.0 and row["t_cpa"] == 0.0
    assert row["level"] == "WARNING"


def test_identical_velocities_outside_los_never_conflict() -> None:
    s = states(
        [
            {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0},
            {"id": "B", "lat": 50.0 + 6.0 / 60.0, "lon": 5.0, "trk": 90.0},
        ]
    )
    assert len(detect_conflicts(s, DetectionParams(minima=FIVE_NM))) == 0
    # both stationary, 1 NM apart: LoS for the whole window
    still = states(
        [
            {"id": "A", "lat": 50.0, "lon": 5.0, "gs_kt": 0.0},
            {"id": "B", "lat": 50.0 + 1.0 / 60.0, "lon": 5.0, "gs_kt": 0.0},
        ]
    )
    row = only_row(still, DetectionParams(minima=FIVE_NM))
    assert row["los"] and row["t_out"] == 300.0


@pytest.mark.parametrize("delta_m", [0.0, 0.001])
def test_level_pair_exactly_at_vertical_minimum(delta_m: float) -> None:
    """|Δalt| == H exactly is not a conflict (strict), from both sides; 1 mm closer is."""
    h = 1000 * FT_TO_M
    s = TrackStates.from_arrays(
        ["A", "B"], ["p", "q"], [0, 0], [50.0, 50.0 + 1 / 60], [5.0, 5.0],
        [9000.0, 9000.0 + h - delta_m], [200.0, 200.0], [0.0, 180.0], [0.0, 0.0],
    )  # fmt: skip
    params = DetectionParams(minima=FIVE_NM, levels=LevelOccupancy(enabled=False))
    for variant in (s, swapped(s)):
        c = detect_conflicts(variant, params)
        assert len(c) == (1 if delta_m else 0)
        assert bool(c.los.any()) is bool(delta_m)


def test_vertical_boundary_with_tiny_rate_is_symmetric() -> None:
    h = 1000 * FT_TO_M
    s = TrackStates.from_arrays(
        ["A", "B"], ["p", "q"], [0, 0], [50.0, 50.0], [5.0, 5.0],
        [9000.0, 9000.0 + h], [0.0, 0.0], [0.0, 0.0], [0.0, 1e-9],
    )  # fmt: skip
    params = DetectionParams(minima=FIVE_NM, levels=LevelOccupancy(enabled=False))
    assert len(detect_conflicts(s, params)) == len(detect_conflicts(swapped(s), params)) == 0


def test_level_occupancy_noisy_adjacent_levels_are_not_a_loss() -> None:
    """FL300 and FL310 reported 920 ft apart (quantisation and noise), both level."""
    rows = [
        {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0, "alt_ft": 30_040.0, "vs_fpm": 64.0},
        {"id": "B", "lat": 50.0 + 1 / 60, "lon": 5.0, "trk": 90.0, "alt_ft": 30_960.0,
         "vs_fpm": -64.0},
    ]  # fmt: skip
    s = states(rows)
    assert len(detect_conflicts(s, DetectionParams(minima=FIVE_NM))) == 0
    raw = detect_conflicts(s, DetectionParams(minima=FIVE_NM, levels=LevelOccupancy(False)))
    assert len(raw) == 1 and raw.los[0]
    # a climbing aircraft is not snapped: 1500 ft/min through the level is a conflict
    rows[1]["vs_fpm"] = -1500.0
    c = detect_conflicts(states(rows), DetectionParams(minima=FIVE_NM))
    assert len(c) == 1 and c.los[0]


def test_near_the_pole_across_it_and_at_it() -> None:
    s = states(
        [
            {"id": "A", "lat": 89.8, "lon": 0.0, "trk": 0.0},
            {"id": "B", "lat": 89.8, "lon": 180.0, "trk": 0.0},
            {"id": "C", "lat": 90.0, "lon": 33.0, "trk": 10.0, "alt_ft": 20_000.0},
        ]
    )
    params = DetectionParams(minima=FIVE_NM)
    c = detect_conflicts(s, params)
    d = detect_conflicts(swapped(s), params)
    ref, _, _ = naive_detect(s, params)
    assert {tuple(p) for p in c.pairs.T.tolist()} == set(ref) == {(0, 1)}
    gap = 2 * 0.2 * math.pi / 180 * 6_371_000.0  # chord ≈ arc across the pole
    closing = 2 * 480 * NM_TO_M / 3600
    assert c.t_cpa[0] == pytest.approx(gap / closing, rel=1e-3)
    assert d.t_cpa[0] == c.t_cpa[0]


def test_very_large_separations_and_antipodes() -> None:
    s = states(
        [
            {"id": "A", "lat": 10.0, "lon": 20.0, "trk": 0.0},
            {"id": "B", "lat": -10.0, "lon": -160.0, "trk": 180.0},
            {"id": "C", "lat": 60.0, "lon": 100.0, "trk": 270.0},
        ]
    )
    params = DetectionParams(minima=FIVE_NM, lookahead_s=100_000.0)
    assert len(detect_conflicts(s, params)) == 0
    assert naive_detect(s, params)[0] == {}


def test_party_filter_and_all_pairs() -> None:
    s = appendix()["parallel_los"]
    same = TrackStates.from_arrays(
        s.track_id, ["p", "p"], s.t, s.lat, s.lon, s.alt_m, s.gs_mps, s.trk_deg, s.vs_mps
    )
    assert len(detect_conflicts(same, DetectionParams(minima=FIVE_NM))) == 0
    assert len(detect_conflicts(same, DetectionParams(minima=FIVE_NM, all_pairs=True))) == 1


def test_minima_per_party_pair_and_altitude_band() -> None:
    rows = [
        {"id": "A", "party": "p", "lat": 50.0, "lon": 5.0, "trk": 90.0},
        {"id": "B", "party": "q", "lat": 50.0 + 4.0 / 60.0, "lon": 5.0, "trk": 90.0},
    ]
    three = SeparationMinima.from_nm_ft(3, 1000)
    table = MinimaTable.build(per_party_pair={("q", "p"): three})
    assert len(detect_conflicts(states(rows), DetectionParams(minima=table))) == 0
    assert len(detect_conflicts(states(rows), DetectionParams())) == 1
    # above FL410 the default table needs 2000 ft
    high = [dict(r, alt_ft=a) for r, a in zip(rows, (42_000.0, 43_000.0), strict=True)]
    mid = [dict(r, alt_ft=a) for r, a in zip(rows, (35_000.0, 36_000.0), strict=True)]
    c = detect_conflicts(states(high), DetectionParams())
    assert len(c) == 1 and c.vertical_m[0] == pytest.approx(2000 * FT_TO_M)
    assert len(detect_conflicts(states(mid), DetectionParams())) == 0


def test_lookahead_per_rule() -> None:
    s = head_on_50nm()  # t_in ≈ 168.9 s
    short = MinimaTable.uniform(SeparationMinima(5 * NM_TO_M, 1000 * FT_TO_M, lookahead_s=120.0))
    assert len(detect_conflicts(s, DetectionParams(minima=short))) == 0
    c = detect_conflicts(s, DetectionParams(minima=FIVE_NM, lookahead_s=170.0))
    assert len(c) == 1 and c.t_out[0] == 170.0 and c.lookahead_s[0] == 170.0


def test_alert_levels_are_data() -> None:
    s = head_on_50nm()
    c = detect_conflicts(s, DetectionParams(minima=FIVE_NM))
    assert list(classify(c)) == ["CAUTION"]
    assert list(classify(c, AlertThresholds(caution_s=300, warning_s=170))) == ["WARNING"]
    assert list(classify(c, AlertThresholds(caution_s=150, warning_s=100))) == ["NONE"]
    with pytest.raises(InvalidInput, match="warning_s"):
        AlertThresholds(caution_s=100, warning_s=200)


def test_stale_track_yields_cannot_assess() -> None:
    rows = [
        {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0, "t": 1000.0},
        {"id": "B", "lat": 50.0 + 1 / 60, "lon": 5.0, "trk": 90.0, "t": 900.0},
        {"id": "C", "lat": 50.0 - 1 / 60, "lon": 5.0, "trk": 90.0, "t": 1000.0},
    ]
    c = detect_conflicts(states(rows), DetectionParams(minima=FIVE_NM))
    assert list(c.stale) == [1]
    df = c.to_frame(states(rows)).set_index(["id_a", "id_b"])
    assert df.loc[("A", "B"), "cannot_assess"] and df.loc[("A", "B"), "level"] == "CANNOT_ASSESS"
    assert math.isnan(df.loc[("A", "B"), "t_in"])
    assert df.loc[("A", "C"), "los"] and not df.loc[("A", "C"), "cannot_assess"]
    _, stale, _ = naive_detect(states(rows), DetectionParams(minima=FIVE_NM))
    assert stale <= {tuple(p) for p in c.pairs[:, c.cannot_assess].T.tolist()}


def test_margins_grow_with_accuracy_and_age() -> None:
    gap_nm = 5.1
    base = states(
        [
            {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0, "t": 0.0},
            {"id": "B", "lat": 50.0 + gap_nm / 60, "lon": 5.0, "trk": 90.0, "t": 0.0},
        ]
    )
    params = DetectionParams(minima=FIVE_NM)
    assert len(detect_conflicts(base, params)) == 0
    acc = TrackStates.from_arrays(
        base.track_id, base.party, base.t, base.lat, base.lon, base.alt_m, base.gs_mps,
        base.trk_deg, base.vs_mps, pos_accuracy_m=[150.0, 150.0],
    )  # fmt: skip
    c = detect_conflicts(acc, params)
    assert len(c) == 1 and c.los[0] and c.horizontal_m[0] == pytest.approx(5 * NM_TO_M + 300)
    aged = DetectionParams(minima=FIVE_NM, now=20.0, quality=DataQuality(horizontal_growth_mps=5))
    c = detect_conflicts(base, aged)
    assert len(c) == 1 and c.horizontal_m[0] == pytest.approx(5 * NM_TO_M + 200)


def test_extrapolation_to_now() -> None:
    """A state 10 s old is moved to now: same answer as the state given at now."""
    old = head_on_50nm()
    moved_lat = old.lat[0] + math.degrees(480 * 1852 / 3600 * 10 / 6_371_000.0)
    now_state = TrackStates.from_arrays(
        old.track_id, old.party, [10.0, 10.0], [moved_lat, old.lat[1]], old.lon, old.alt_m,
        old.gs_mps, old.trk_deg, old.vs_mps,
    )  # fmt: skip
    aged = TrackStates.from_arrays(
        old.track_id, old.party, [0.0, 10.0], old.lat, old.lon, old.alt_m, old.gs_mps,
        old.trk_deg, old.vs_mps,
    )  # fmt: skip
    q = DataQuality(horizontal_growth_mps=0.0)
    a = detect_conflicts(aged, DetectionParams(minima=FIVE_NM, quality=q))
    b = detect_conflicts(now_state, DetectionParams(minima=FIVE_NM, quality=q))
    assert a.now == b.now == 10.0
    assert a.t_cpa[0] == pytest.approx(b.t_cpa[0], abs=1e-6)


def test_nan_fields_are_refused_or_flagged() -> None:
    rows = [
        {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0},
        {"id": "B", "lat": 50.0 + 1 / 60, "lon": 5.0, "trk": 90.0},
        {"id": "C", "lat": math.nan, "lon": 5.0, "trk": 90.0},
        {"id": "D", "lat": 50.0 - 1 / 60, "lon": 5.0, "trk": 90.0, "vs_fpm": math.nan},
    ]
    s = states(rows)
    with pytest.raises(InvalidInput) as exc:
        detect_conflicts(s, DetectionParams(on_invalid="raise"))
    assert exc.value.field == "lat" and "row 2" in str(exc.value)
    c = detect_conflicts(s, DetectionParams(on_invalid="flag"))
    assert list(c.invalid) == [2, 3]
    assert {tuple(p) for p in c.pairs.T.tolist()} == {(0, 1)}


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(InvalidInput, match="lat"):
        TrackStates.from_arrays(["A", "B"], "p", [0, 0], [1.0], [0, 0], [0, 0], [0, 0], [0, 0],
                                [0, 0])  # fmt: skip
    with pytest.raises(InvalidInput, match="gs_mps"):
        TrackStates.from_arrays(["A"], "p", [0], [1.0], [0], [0], ["fast"], [0], [0])
    with pytest.raises(InvalidInput, match="lookahead_s"):
        DetectionParams(lookahead_s=-1)
    with pytest.raises(InvalidInput, match="horizontal_m"):
        SeparationMinima(horizontal_m=0)
    with pytest.raises(InvalidInput, match="states"):
        detect_conflicts([1, 2, 3])  # type: ignore[arg-type]


def test_empty_and_single_track() -> None:
    empty = TrackStates.from_arrays([], [], [], [], [], [], [], [], [])
    assert len(detect_conflicts(empty)) == 0
    one = states([{"id": "A", "lat": 0.0, "lon": 0.0}])
    assert len(detect_conflicts(one)) == 0
