"""Real ADS-B recording (Paris TMA, 2021-10-07 12:00–15:00 UTC, OpenSky via the ``traffic``
package's quickstart sample): at each sampled recorded second, the pairs the engine reports as
already in loss of separation equal a brute-force distance check of the same reports.

The brute force is independent of the engine: great-circle (haversine) distance below 5 NM and
altitude difference below 1000 ft − 1 µm, with and without the level-occupancy rule written out
again here. Rows with a missing required field are excluded by both (the engine flags them).
Pairs within 1 cm of the horizontal minimum are left out of the comparison: chord and arc
differ by less than a millimetre there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.tactical import DetectionParams, LevelOccupancy, TrackStates, detect_conflicts
from sharedsky.units import FPM_TO_MPS, FT_TO_M, NM_TO_M

R = 5 * NM_TO_M
H = 1000 * FT_TO_M - 1e-6
EVERY_NTH_SECOND = 3


Pairs = set[tuple[int, int]]


def brute_force_los(s: TrackStates, snap: bool) -> tuple[Pairs, Pairs]:
    """(pairs in LoS, pairs too close to the horizontal minimum to call)."""
    ok = np.ones(len(s), dtype=bool)
    for f in ("t", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps"):
        ok &= np.isfinite(getattr(s, f))
    idx = np.flatnonzero(ok)
    lat = np.radians(s.lat[idx])
    lon = np.radians(s.lon[idx])
    alt = s.alt_m[idx].copy()
    if snap:
        level = np.round(alt / (1000 * FT_TO_M)) * (1000 * FT_TO_M)
        lvl = (np.abs(s.vs_mps[idx]) <= 300 * FPM_TO_MPS) & (np.abs(alt - level) <= 200 * FT_TO_M)
        alt[lvl] = level[lvl]
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    dist = 2 * 6_371_000.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    dalt = np.abs(alt[:, None] - alt[None, :])
    upper = np.triu(np.ones_like(dist, dtype=bool), 1)
    los = upper & (dist < R) & (dalt < H)
    unsure = upper & (np.abs(dist - R) < 0.01) & (dalt < H)

    def pairs(m: np.ndarray) -> set[tuple[int, int]]:
        return {(int(idx[i]), int(idx[j])) for i, j in zip(*np.nonzero(m), strict=True)}

    return pairs(los), pairs(unsure)


@pytest.mark.slow
def test_los_equals_brute_force_on_real_recording(shared_dir: Path) -> None:
    path = shared_dir / "data" / "adsb" / "traffic_quickstart.json.gz"
    frame = pd.read_json(path, orient="records", compression="gzip")
    all_states = TrackStates.from_traffic_frame(frame, default_party="opensky")
    seconds, inverse = np.unique(all_states.t, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(seconds.size + 1))
    checked = found = 0
    for snap in (True, False):
        params = DetectionParams(all_pairs=True, levels=LevelOccupancy(enabled=snap))
        for k in range(0, seconds.size, EVERY_NTH_SECOND):
            s = all_states.select(order[bounds[k] : bounds[k + 1]])
            if len(s) < 2:
                continue
            c = detect_conflicts(s, params)
            assert c.now == seconds[k]
            engine = {tuple(p) for p in c.pairs[:, c.los].T.tolist()}
            expected, unsure = brute_force_los(s, snap)
            assert engine - unsure == expected - unsure, (seconds[k], snap)
            checked += 1
            found += len(expected)
    assert checked > 2 * 3000
    assert found > 1000  # the recording has real losses of 5 NM / 1000 ft (parallel approaches)
