"""Naive twins of area proximity, line crossing and conformance, from the geometry documented
in ``sharedsky.tactical.areas`` (local plane at the shape's reference point, x = R·Δλ·cos φ_ref
with Δλ wrapped, y = R·Δφ), by brute force with shapely: sampling time for volumes, segment
intersection for lines, point-polygon distance for conformance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

R_EARTH = 6_371_000.0


def local(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    return (
        R_EARTH * math.radians(dlon) * math.cos(math.radians(lat0)),
        R_EARTH * math.radians(lat - lat0),
    )


def shape_of(vol: Any) -> tuple[Any, float, float]:
    if vol.center is not None:
        lat0, lon0 = float(vol.center[0]), float(vol.center[1])
        return shapely.Point(0.0, 0.0).buffer(vol.radius_m, 2048), lat0, lon0
    lat0, lon0 = float(vol.polygon[0][0]), float(vol.polygon[0][1])
    return shapely.Polygon([local(a, b, lat0, lon0) for a, b in vol.polygon]), lat0, lon0


def track_motion(states: Any, k: int, now: float, lat0: float, lon0: float) -> tuple[float, ...]:
    x, y = local(float(states.lat[k]), float(states.lon[k]), lat0, lon0)
    trk = math.radians(float(states.trk_deg[k]))
    ve = float(states.gs_mps[k]) * math.sin(trk)
    vn = float(states.gs_mps[k]) * math.cos(trk)
    age = now - float(states.t[k])
    alt = float(states.alt_m[k]) + float(states.vs_mps[k]) * age
    return x + ve * age, y + vn * age, ve, vn, alt, float(states.vs_mps[k])


def volume_times(
    states: Any, k: int, vol: Any, lookahead: float, now: float, step: float = 0.05
) -> tuple[float, float, bool] | None:
    """(first entry, end of that stay, inside at 0) by sampling every ``step`` seconds."""
    shape, lat0, lon0 = shape_of(vol)
    x, y, ve, vn, alt, vs = track_motion(states, k, now, lat0, lon0)

    taus = np.arange(round(lookahead / step) + 1) * step
    t_abs = now + taus
    ok = np.ones(taus.shape, dtype=bool)
    if vol.start is not None:
        ok &= t_abs >= vol.start
    if vol.end is not None:
        ok &= t_abs <= vol.end
    a = alt + vs * taus
    ok &= (a >= vol.lower_m) & (a <= vol.upper_m)
    px, py = x + ve * taus, y + vn * taus
    if vol.center is not None:  # a circle: exact, not the polygon approximation
        ok &= np.hypot(px, py) <= vol.radius_m
    else:
        shapely.prepare(shape)
        ok &= shapely.covers(shape, shapely.points(px, py))
    hits = np.flatnonzero(ok)
    if hits.size == 0:
        return None
    first = hits[0]
    after = np.flatnonzero(~ok[first:])
    end = lookahead if after.size == 0 else float(taus[first + after[0]])
    return float(taus[first]), end, bool(ok[0])


def line_crossing(states: Any, k: int, line: Any, lookahead: float, now: float) -> float | None:
    pts = [tuple(p) for p in line.points]
    lat0, lon0 = float(pts[0][0]), float(pts[0][1])
    poly = shapely.LineString([local(a, b, lat0, lon0) for a, b in pts])
    x, y, ve, vn, _, _ = track_motion(states, k, now, lat0, lon0)
    speed = math.hypot(ve, vn)
    if speed == 0:
        return None
    path = shapely.LineString([(x, y), (x + ve * lookahead, y + vn * lookahead)])
    hit = path.intersection(poly)
    if hit.is_empty:
        return None
    origin = shapely.Point(x, y)
    points = [shapely.Point(c) for g in getattr(hit, "geoms", [hit]) for c in g.coords]
    return min(origin.distance(p) for p in points) / speed


def outside_distance(vol: Any, lat: float, lon: float) -> float:
    shape, lat0, lon0 = shape_of(vol)
    return float(shape.distance(shapely.Point(*local(lat, lon, lat0, lon0))))
