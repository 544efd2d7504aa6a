"""Resolution advice (advice only, never a clearance): for each conflict pair, the smallest
heading, ground-speed or vertical-rate change of EACH aircraft alone (the other keeping its
state) after which the pair is no longer predicted in conflict, under the same geometry, minima,
margins and look-ahead as the detection (:mod:`sharedsky.tactical.detect`).

It is a direct search over a grid of manoeuvres (not MVP): every candidate is checked with the
exact detector, so the advice is right by construction, is the same whichever aircraft is listed
first, and never sends both aircraft the same way by accident (each side is advised alone).
Pairs already in loss of separation get no advice (NaN): no single change undoes a loss at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.tactical import _kernels
from sharedsky.tactical.detect import Conflicts, DetectionParams, prepare_tracks
from sharedsky.tactical.states import TrackStates

__all__ = ["ResolutionAdvice", "resolution_advice"]


@dataclass(frozen=True, eq=False)
class ResolutionAdvice:
    """One row per row of the conflicts given (same ``pairs``). For aircraft a = pairs[0] and
    b = pairs[1]: ``heading_a_deg``/``heading_b_deg`` (signed, clockwise positive),
    ``speed_a_mps``/``speed_b_mps`` and ``vs_a_mps``/``vs_b_mps`` (signed changes); NaN when no
    change within the limits resolves the conflict alone, or the pair cannot be advised (loss of
    separation, cannot assess)."""

    pairs: np.ndarray
    heading_a_deg: np.ndarray
    heading_b_deg: np.ndarray
    speed_a_mps: np.ndarray
    speed_b_mps: np.ndarray
    vs_a_mps: np.ndarray
    vs_b_mps: np.ndarray

    def __len__(self) -> int:
        return int(self.pairs.shape[1])


def resolution_advice(
    states: TrackStates,
    conflicts: Conflicts,
    params: DetectionParams | None = None,
    *,
    heading_step_deg: float = 1.0,
    max_heading_deg: float = 90.0,
    speed_step_mps: float = 2.5,
    max_speed_change_mps: float = 60.0,
    vs_step_mps: float = 0.5,
    max_vs_change_mps: float = 15.0,
) -> ResolutionAdvice:
    """Advice for every row of ``conflicts`` (from ``detect_conflicts(states, params)`` with the
    same ``params``). Step sizes and limits are the search grid; the smallest change found is
    exact to within one step."""
    params = params or DetectionParams()
    for name, v in (
        ("heading_step_deg", heading_step_deg),
        ("max_heading_deg", max_heading_deg),
        ("speed_step_mps", speed_step_mps),
        ("max_speed_change_mps", max_speed_change_mps),
        ("vs_step_mps", vs_step_mps),
        ("max_vs_change_mps", max_vs_change_mps),
    ):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInput("must be a finite non-negative number", name)
    if max_heading_deg > 180.0:
        raise InvalidInput("must not exceed 180", "max_heading_deg")
    if conflicts.pairs.size and int(conflicts.pairs.max()) >= len(states):
        raise InvalidInput("refer to rows the states do not have", "conflicts")
    prep = prepare_tracks(states, params)
    params_now = conflicts.now
    if prep.now != params_now:
        raise InvalidInput("were detected at another time than these states give", "conflicts")
    m = len(conflicts)
    out = np.full((6, m), np.nan)
    ok = ~conflicts.cannot_assess
    idx = np.flatnonzero(ok)
    if idx.size:
        sub = np.empty((6, idx.size))
        _kernels.advise_pairs(
            prep.px,
            prep.py,
            prep.pz,
            prep.vx,
            prep.vy,
            prep.vz,
            prep.alt,
            prep.vs,
            np.ascontiguousarray(conflicts.pairs[0, idx]),
            np.ascontiguousarray(conflicts.pairs[1, idx]),
            np.ascontiguousarray(conflicts.horizontal_m[idx]),
            np.ascontiguousarray(conflicts.vertical_m[idx]),
            np.ascontiguousarray(conflicts.lookahead_s[idx]),
            math.radians(heading_step_deg),
            math.radians(max_heading_deg),
            float(speed_step_mps),
            float(max_speed_change_mps),
            float(vs_step_mps),
            float(max_vs_change_mps),
            sub,
        )
        out[:, idx] = sub
    return ResolutionAdvice(
        pairs=conflicts.pairs.copy(),
        heading_a_deg=np.degrees(out[0]),
        heading_b_deg=np.degrees(out[1]),
        speed_a_mps=out[2],
        speed_b_mps=out[3],
        vs_a_mps=out[4],
        vs_b_mps=out[5],
    )
