"""Hand-made geometries for the tactical tests, including the appendix of tactical.md.

The appendix gives BlueSky's outputs, not its inputs; the inputs here are reconstructed from its
numbers: 480 kt head-on aircraft 50 NM (50/60° of latitude) apart give t_cpa = 187.6 s and
t_in = 168.9 s with 5 NM; across the antimeridian 0.8° of longitude on the equator gives 180.1 s;
at 70°N 450 kt aircraft with t_cpa = 79.1 s give t_in = 59.1 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sharedsky.tactical import TrackStates
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS, NM_TO_M

R = 6_371_000.0
FL300 = 30_000 * FT_TO_M


def states(rows: Sequence[dict[str, object]]) -> TrackStates:
    """Rows with keys id, party, lat, lon, alt_ft, gs_kt, trk, vs_fpm (t = 0)."""
    return TrackStates.from_arrays(
        track_id=[r["id"] for r in rows],
        party=[r.get("party", r["id"]) for r in rows],
        t=[float(r.get("t", 0.0)) for r in rows],  # type: ignore[arg-type]
        lat=[r["lat"] for r in rows],
        lon=[r["lon"] for r in rows],
        alt_m=[float(r.get("alt_ft", 30_000.0)) * FT_TO_M for r in rows],  # type: ignore[arg-type]
        gs_mps=[float(r.get("gs_kt", 480.0)) * KT_TO_MPS for r in rows],  # type: ignore[arg-type]
        trk_deg=[r.get("trk", 0.0) for r in rows],
        vs_mps=[float(r.get("vs_fpm", 0.0)) * FPM_TO_MPS for r in rows],  # type: ignore[arg-type]
    )


def head_on_50nm(alt_b_ft: float = 30_000.0, vs_b_fpm: float = 0.0) -> TrackStates:
    half = 25.0 / 60.0
    return states(
        [
            {"id": "A", "lat": 50.0 - half, "lon": 5.0, "trk": 0.0},
            {"id": "B", "lat": 50.0 + half, "lon": 5.0, "trk": 180.0, "alt_ft": alt_b_ft,
             "vs_fpm": vs_b_fpm},
        ]
    )  # fmt: skip


def appendix() -> dict[str, TrackStates]:
    """The eight geometries of tactical.md's appendix."""
    half_lon = 0.4
    west = math.degrees(
        (30.0 + 10.0 * math.sqrt(2.0)) * NM_TO_M / (R * math.cos(math.radians(50.0)))
    )
    lon70 = math.degrees(79.1 * 2 * 450 * KT_TO_MPS / (R * math.cos(math.radians(70.0)))) / 2
    return {
        "head_on_50nm": head_on_50nm(),
        "head_on_antimeridian": states(
            [
                {"id": "A", "lat": 0.0, "lon": 180.0 - half_lon, "trk": 90.0},
                {"id": "B", "lat": 0.0, "lon": -180.0 + half_lon, "trk": 270.0},
            ]
        ),
        "head_on_1000ft_apart": head_on_50nm(alt_b_ft=31_000.0),
        # B 2000 ft below, climbing 1000 ft/min: vertical intrusion (60 s, 180 s) overlaps the
        # horizontal one (168.9 s, 206.4 s)
        "slow_climb_through": head_on_50nm(alt_b_ft=28_000.0, vs_b_fpm=1_000.0),
        # B climbing 6000 ft/min: vertical intrusion (10 s, 30 s) ends long before 168.9 s
        "fast_climb_through": head_on_50nm(alt_b_ft=28_000.0, vs_b_fpm=6_000.0),
        "parallel_los": states(
            [
                {"id": "A", "lat": 50.0, "lon": 5.0, "trk": 90.0},
                {"id": "B", "lat": 50.0 + 3.0 / 60.0, "lon": 5.0, "trk": 90.0},
            ]
        ),
        # A north-bound, B east-bound, same speed, B 30 NM north and 30 + 10·√2 NM west of
        # A: the relative track passes 10 NM from A
        "crossing_miss_10nm": states(
            [
                {"id": "A", "lat": 50.0 - 30.0 / 60.0, "lon": 5.0, "trk": 0.0},
                {"id": "B", "lat": 50.0, "lon": 5.0 - west, "trk": 90.0},
            ]
        ),
        "head_on_70N": states(
            [
                {"id": "A", "lat": 70.0, "lon": 20.0 - lon70, "trk": 90.0, "gs_kt": 450.0},
                {"id": "B", "lat": 70.0, "lon": 20.0 + lon70, "trk": 270.0, "gs_kt": 450.0},
            ]
        ),
    }


#: BlueSky's correct (numpy, compiled geometry off) answers from the appendix, with ours for the
#: cases where BlueSky is wrong: (in conflict, los, t_cpa, t_in, d_cpa_nm).
APPENDIX_EXPECTED: dict[str, tuple[bool, bool, float, float, float] | None] = {
    "head_on_50nm": (True, False, 187.6, 168.9, 0.0),
    "head_on_antimeridian": (True, False, 180.1, 161.4, 0.0),
    "head_on_1000ft_apart": None,  # BlueSky numpy #345: one-sided false conflict
    "slow_climb_through": (True, False, 187.6, 168.9, 0.0),
    "fast_climb_through": None,
    "parallel_los": (True, True, 0.0, 0.0, 3.0),
    "crossing_miss_10nm": None,
    "head_on_70N": (True, False, 79.1, 59.1, 0.0),
}
