"""Naive twin of the tactical conflict engine: every pair, plain Python floats, no broad phase.

It implements the geometry and semantics documented in ``sharedsky.tactical.detect`` from the
documentation, not from the engine's code:

* extrapolate each track along its great circle to ``now`` (altitude with its vertical rate);
* level occupancy: |vs| <= max_vs and altitude within tolerance of a level -> snapped, vs = 0;
* positions on a 6 371 km sphere in Earth-centred coordinates; velocity from local east/north;
* per pair: project relative position and velocity on the tangent plane at the midpoint
  direction; horizontal and vertical open intrusion intervals; conflict when they overlap
  within [0, T]; LoS now; t_in/t_out/t_cpa clipped to [0, T];
* minima: first matching rule by party pair and by the higher altitude; margins from age and
  accuracy; tracks older than max age give ``cannot_assess``.

``scale_r``/``scale_h`` multiply the radius and half-height so that tests can bracket the
engine's answer between a slightly stricter and a slightly looser reference (floating point
makes the exact boundary ambiguous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

R_EARTH = 6_371_000.0


@dataclass
class PairResult:
    conflict: bool
    los: bool
    t_in: float
    t_out: float
    t_cpa: float
    d_cpa: float
    dalt_cpa: float
    radius: float
    half_height: float
    lookahead: float


@dataclass
class Track:
    ok: bool
    stale: bool
    party: str
    p: tuple[float, float, float]
    v: tuple[float, float, float]
    alt: float
    vs: float
    hm: float
    vm: float


def _finite(*xs: float) -> bool:
    return all(isinstance(x, float | int) and math.isfinite(x) for x in xs)


def prepare(states: Any, params: Any) -> tuple[list[Track], float]:
    """Per-track state at ``now`` in the detection frame."""
    n = len(states)
    rows = []
    for k in range(n):
        row = {
            f: float(getattr(states, f)[k])
            for f in ("t", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps")
        }
        row["ok"] = _finite(*row.values()) and abs(row["lat"]) <= 90 and row["gs_mps"] >= 0
        rows.append(row)
    if params.now is not None:
        now = float(params.now)
    else:
        ts = [r["t"] for r in rows if r["ok"]]
        now = max(ts) if ts else 0.0
    lv = params.levels
    q = params.quality
    tracks = []
    for k, r in enumerate(rows):
        party = str(states.party[k])
        if not r["ok"]:
            tracks.append(Track(False, False, party, (0, 0, 0), (0, 0, 0), 0, 0, 0, 0))
            continue
        age = now - r["t"]
        lat1 = math.radians(r["lat"])
        lon1 = math.radians(r["lon"])
        brg = math.radians(r["trk_deg"])
        dist = r["gs_mps"] * age / R_EARTH
        if dist != 0.0:
            lat2 = math.asin(
                max(
                    -1.0,
                    min(
                        1.0,
                        math.sin(lat1) * math.cos(dist)
                        + math.cos(lat1) * math.sin(dist) * math.cos(brg),
                    ),
                )
            )
            lon2 = lon1 + math.atan2(
                math.sin(brg) * math.sin(dist) * math.cos(lat1),
                math.cos(dist) - math.sin(lat1) * math.sin(lat2),
            )
            # bearing from the new point back to the old one, reversed
            back = math.atan2(
                math.sin(lon1 - lon2) * math.cos(lat1),
                math.cos(lat2) * math.sin(lat1)
                - math.sin(lat2) * math.cos(lat1) * math.cos(lon1 - lon2),
            )
            lat, lon, trk = lat2, lon2, back + math.pi
        else:
            lat, lon, trk = lat1, lon1, brg
        alt = r["alt_m"] + r["vs_mps"] * age
        vs = r["vs_mps"]
        if lv.enabled:
            level = round(alt / lv.level_step_m) * lv.level_step_m
            if abs(vs) <= lv.max_vs_mps and abs(alt - level) <= lv.tolerance_m:
                alt, vs = level, 0.0
        p = (
            R_EARTH * math.cos(lat) * math.cos(lon),
            R_EARTH * math.cos(lat) * math.sin(lon),
            R_EARTH * math.sin(lat),
        )
        east = (-math.sin(lon), math.cos(lon), 0.0)
        north = (
            -math.sin(lat) * math.cos(lon),
            -math.sin(lat) * math.sin(lon),
            math.cos(lat),
        )
        ve = r["gs_mps"] * math.sin(trk)
        vn = r["gs_mps"] * math.cos(trk)
        v = tuple(ve * east[c] + vn * north[c] for c in range(3))
        pacc = float(states.pos_accuracy_m[k])
        vacc = float(states.vel_accuracy_mps[k])
        pacc = q.default_pos_accuracy_m if math.isnan(pacc) else pacc
        vacc = q.default_vel_accuracy_mps if math.isnan(vacc) else vacc
        hm = pacc + (vacc + q.horizontal_growth_mps) * abs(age)
        vm = q.vertical_growth_mps * abs(age)
        stale = abs(age) > q.max_age_s
        tracks.append(Track(True, stale, party, p, v, alt, vs, hm, vm))  # type: ignore[arg-type]
    return tracks, now


def pair_minima(params: Any, a: Track, b: Track) -> tuple[float, float, float]:
    """(R, H, T) of the first matching rule (before margins)."""
    from sharedsky.tactical import SeparationMinima

    table = params.minima
    if isinstance(table, SeparationMinima):
        m = table
    else:
        m = table.default
        top = max(a.alt, b.alt)
        for rule in table.rules:
            if rule.parties is not None and {rule.parties[0], rule.parties[1]} != {
                a.party,
                b.party,
            }:
                continue
            lo = -math.inf if rule.above_m is None else rule.above_m
            hi = math.inf if rule.up_to_m is None else rule.up_to_m
            if lo < top <= hi:
                m = rule.minima
                break
    look = params.lookahead_s if m.lookahead_s is None else m.lookahead_s
    return m.horizontal_m, m.vertical_m, float(look)


def evaluate_pair(a: Track, b: Track, radius: float, half_height: float, look: float) -> PairResult:
    """The documented semantics for one pair (a, b)."""
    m = [a.p[c] + b.p[c] for c in range(3)]
    mn = math.sqrt(sum(x * x for x in m))
    nothing = PairResult(False, False, *([math.nan] * 5), radius, half_height, look)
    if mn < 1.0:
        return nothing
    m = [x / mn for x in m]
    d = [b.p[c] - a.p[c] for c in range(3)]
    w = [b.v[c] - a.v[c] for c in range(3)]
    dm = sum(d[c] * m[c] for c in range(3))
    wm = sum(w[c] * m[c] for c in range(3))
    d = [d[c] - dm * m[c] for c in range(3)]
    w = [w[c] - wm * m[c] for c in range(3)]
    d2 = sum(x * x for x in d)
    a2 = sum(x * x for x in w)
    bdw = sum(d[c] * w[c] for c in range(3))
    half_height = half_height - 1e-6  # documented: |Δz| < H − 1 µm
    dz = b.alt - a.alt
    dvz = b.vs - a.vs
    los = math.sqrt(d2) < radius and abs(dz) < half_height
    # horizontal: |d + w t| < R
    if a2 <= 1e-12:
        t_cpa_raw = 0.0
        h_int = (-math.inf, math.inf) if math.sqrt(d2) < radius else None
    else:
        t_cpa_raw = -bdw / a2
        closest = [d[c] + w[c] * t_cpa_raw for c in range(3)]
        dc = math.sqrt(sum(x * x for x in closest))
        if dc < radius:
            half = math.sqrt(radius * radius - dc * dc) / math.sqrt(a2)
            h_int = (t_cpa_raw - half, t_cpa_raw + half)
        else:
            h_int = None
    # vertical: |dz + dvz t| < H
    if dvz == 0.0:
        v_int = (-math.inf, math.inf) if abs(dz) < half_height else None
    else:
        t1 = (-half_height - dz) / dvz
        t2 = (half_height - dz) / dvz
        v_int = (min(t1, t2), max(t1, t2))
    predicted = False
    lo = hi = math.nan
    if h_int is not None and v_int is not None:
        lo = max(h_int[0], v_int[0])
        hi = min(h_int[1], v_int[1])
        predicted = lo < hi and lo < look and hi > 0
    if not (los or predicted):
        return nothing
    t_in = 0.0 if los else min(max(lo, 0.0), look)
    t_out = min(max(hi, t_in), look) if predicted else t_in
    tc = min(max(t_cpa_raw, 0.0), look)
    at = [d[c] + w[c] * tc for c in range(3)]
    return PairResult(
        True,
        los,
        t_in,
        t_out,
        tc,
        math.sqrt(sum(x * x for x in at)),
        abs(dz + dvz * tc),
        radius,
        half_height + 1e-6,
        look,
    )


def naive_detect(
    states: Any, params: Any, scale_r: float = 1.0, scale_h: float = 1.0
) -> tuple[dict[tuple[int, int], PairResult], set[tuple[int, int]], float]:
    """All pairs: (conflicts keyed by (i, j), i < j; pairs involving a stale track that would
    be in conflict with their margins; now)."""
    tracks, now = prepare(states, params)
    out: dict[tuple[int, int], PairResult] = {}
    stale: set[tuple[int, int]] = set()
    n = len(tracks)
    for i in range(n):
        a = tracks[i]
        if not a.ok:
            continue
        for j in range(i + 1, n):
            b = tracks[j]
            if not b.ok:
                continue
            if not params.all_pairs and a.party == b.party:
                continue
            r, h, t = pair_minima(params, a, b)
            res = evaluate_pair(a, b, (r + a.hm + b.hm) * scale_r, (h + a.vm + b.vm) * scale_h, t)
            if not res.conflict:
                continue
            if a.stale or b.stale:
                stale.add((i, j))
            else:
                out[(i, j)] = res
    return out, stale, now
