"""Area proximity (predicted entry into protected volumes, crossing of lines) and conformance.

Geometry: each volume or line has a reference point (its first vertex or centre); tracks and
shapes are placed in a local plane there (:func:`sharedsky.geo.local_xy`),
``x = R·Δλ·cos φ_ref`` (Δλ wrapped to [−180°, 180°), so shapes across the antimeridian work)
and ``y = R·Δφ``, with R = 6 371 km. That plane is
accurate for shapes up to a few hundred kilometres away from the poles; a track moves in it
with constant velocity ``(gs·sin trk, gs·cos trk)`` after being extrapolated from its own time
to ``now``. Vertical: ``alt + vs·τ`` inside the closed band ``[lower_m, upper_m]``. Time: the
volume's active window ``[start, end]`` (epoch s; None: open).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.geo.geodesy import local_xy
from sharedsky.tactical import _kernels
from sharedsky.tactical.states import REQUIRED_FIELDS, TrackStates
from sharedsky.units import EARTH_RADIUS_M

__all__ = [
    "AreaProximity",
    "Conformance",
    "Line",
    "LineCrossings",
    "ProtectedVolume",
    "conformance",
    "detect_area_proximity",
    "detect_line_crossings",
]


def _latlon_list(points: Sequence[Sequence[float]], field: str, min_len: int) -> np.ndarray:
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"must be a sequence of (lat, lon) pairs ({exc})", field) from exc
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < min_len:
        raise InvalidInput(f"needs at least {min_len} (lat, lon) pairs", field)
    if not np.isfinite(arr).all() or (np.abs(arr[:, 0]) > 90).any():
        raise InvalidInput("has a non-finite or out-of-range coordinate", field)
    return arr


@dataclass(frozen=True, eq=False)
class ProtectedVolume:
    """A polygon (``polygon``: (lat, lon) vertices, ring not repeated) or a circle (``center``
    (lat, lon) and ``radius_m``), an altitude band ``[lower_m, upper_m]`` and an active window
    ``[start, end]`` (epoch s, None: unbounded)."""

    id: str
    polygon: Sequence[Sequence[float]] | None = None
    center: tuple[float, float] | None = None
    radius_m: float | None = None
    lower_m: float = -math.inf
    upper_m: float = math.inf
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        if (self.polygon is None) == (self.center is None):
            raise InvalidInput("give exactly one of polygon or center+radius_m", "polygon")
        if self.polygon is not None:
            ring = _latlon_list(self.polygon, "polygon", 3)
            if np.array_equal(ring[0], ring[-1]):
                ring = ring[:-1]
            if ring.shape[0] < 3:
                raise InvalidInput("needs at least 3 distinct vertices", "polygon")
            object.__setattr__(self, "polygon", ring)
        else:
            _latlon_list([self.center], "center", 1)
            if self.radius_m is None or not (0 < float(self.radius_m) < math.inf):
                raise InvalidInput("must be a positive number of metres", "radius_m")
        if not self.lower_m <= self.upper_m:
            raise InvalidInput("must not exceed upper_m", "lower_m")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InvalidInput("must not precede start", "end")

    @property
    def reference(self) -> tuple[float, float]:
        if self.center is not None:
            return float(self.center[0]), float(self.center[1])
        ring = np.asarray(self.polygon)
        return float(ring[0, 0]), float(ring[0, 1])

    def local_ring(self) -> tuple[np.ndarray, np.ndarray]:
        """Polygon vertices in the volume's local plane (m)."""
        lat0, lon0 = self.reference
        ring = np.asarray(self.polygon)
        return local_xy(ring[:, 0], ring[:, 1], lat0, lon0)

    def bound_m(self) -> float:
        """Radius (m) of a circle about the reference point containing the volume."""
        if self.center is not None:
            return float(self.radius_m or 0.0)
        x, y = self.local_ring()
        return float(np.sqrt(x * x + y * y).max())


@dataclass(frozen=True, eq=False)
class Line:
    """A polyline of (lat, lon) vertices (an agreed deconfliction line, a border)."""

    id: str
    points: Sequence[Sequence[float]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _latlon_list(self.points, "points", 2))


@dataclass(frozen=True, eq=False)
class _Moving:
    ok: np.ndarray  # rows assessed
    lat: np.ndarray
    lon: np.ndarray
    ve: np.ndarray
    vn: np.ndarray
    age: np.ndarray
    alt: np.ndarray
    vs: np.ndarray
    now: float


def _moving(states: TrackStates, now: float | None) -> _Moving:
    if not isinstance(states, TrackStates):
        raise InvalidInput(f"expected TrackStates, got {type(states)}", "states")
    ok = np.ones(len(states), dtype=bool)
    for name in REQUIRED_FIELDS:
        ok &= np.isfinite(getattr(states, name))
    if now is None:
        now = float(states.t[ok].max()) if ok.any() else 0.0
    trk = np.radians(np.where(ok, states.trk_deg, 0.0))
    gs = np.where(ok, states.gs_mps, 0.0)
    age = np.where(ok, now - states.t, 0.0)
    return _Moving(
        ok,
        np.where(ok, states.lat, 0.0),
        np.where(ok, states.lon, 0.0),
        gs * np.sin(trk),
        gs * np.cos(trk),
        age,
        np.where(ok, states.alt_m + states.vs_mps * age, 0.0),
        np.where(ok, states.vs_mps, 0.0),
        float(now),
    )


class _LatIndex:
    """Assessed tracks sorted by latitude: the tracks within a latitude band in O(log n).

    Broad phase of the per-shape loops: a shape's test needs only the tracks that can come
    within reach of it, and in every shape's local plane ``y = R·Δφ`` exactly, so a band of
    latitude that holds all of them is conservative; the exact tests then run on those tracks
    alone, element by element as on all of them (the same numbers)."""

    def __init__(self, mv: _Moving, idx_ok: np.ndarray) -> None:
        lat = mv.lat[idx_ok]
        self.order = np.argsort(lat, kind="stable")
        self.lat = lat[self.order]
        self.lon = np.ascontiguousarray(mv.lon[idx_ok][self.order])

    def band(self, lat_lo: float, lat_hi: float) -> np.ndarray:
        """Positions (into ``idx_ok``, ascending) of the tracks with lat_lo <= lat <= lat_hi."""
        lo = int(np.searchsorted(self.lat, lat_lo, side="left"))
        hi = int(np.searchsorted(self.lat, lat_hi, side="right"))
        return np.sort(self.order[lo:hi])


def _band_deg(distance_m: float) -> float:
    """A latitude difference (deg) certainly covering ``distance_m`` along a meridian."""
    return math.degrees((distance_m + 1.0) / EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-9


@dataclass(frozen=True, eq=False)
class AreaProximity:
    """Track × volume rows: ``pairs[0]`` track index, ``pairs[1]`` volume index; ``t_entry`` and
    ``t_exit`` (seconds after ``now``, within [0, look-ahead]) of the first stay inside;
    ``inside``: already inside now. ``invalid``: track rows not assessed (non-finite fields)."""

    pairs: np.ndarray
    t_entry: np.ndarray
    t_exit: np.ndarray
    inside: np.ndarray
    invalid: np.ndarray
    now: float

    def __len__(self) -> int:
        return int(self.pairs.shape[1])


def _band_interval(
    alt: np.ndarray, vs: np.ndarray, lower: float, upper: float, t_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of τ in [0, t_max] with lower <= alt + vs·τ <= upper (lo > hi: empty)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lower - alt) / vs
        t2 = (upper - alt) / vs
    level_in = (alt >= lower) & (alt <= upper)
    lo = np.where(vs == 0, np.where(level_in, 0.0, np.inf), np.minimum(t1, t2))
    hi = np.where(vs == 0, np.where(level_in, t_max, -np.inf), np.maximum(t1, t2))
    return np.maximum(lo, 0.0), np.minimum(hi, t_max)


def detect_area_proximity(
    states: TrackStates,
    volumes: Sequence[ProtectedVolume],
    lookahead_s: float = 300.0,
    now: float | None = None,
) -> AreaProximity:
    """Predicted entries of tracks into protected volumes within ``lookahead_s`` (see the
    module docstring for geometry). A row appears when the track is inside, or enters, the
    volume within [0, look-ahead] while the volume is active.

    Cost: the tracks within a latitude band of each volume (the broad phase) are paired with
    it, and all (track, volume) pairs are tested together, element by element; only polygons
    take one kernel call each."""
    if not (math.isfinite(lookahead_s) and lookahead_s >= 0):
        raise InvalidInput("must be a finite non-negative number of seconds", "lookahead_s")
    mv = _moving(states, now)
    idx_ok = np.flatnonzero(mv.ok)
    speed = np.hypot(mv.ve, mv.vn)
    reach = speed * (lookahead_s + np.abs(mv.age))
    nv = len(volumes)
    empty = AreaProximity(
        np.zeros((2, 0), dtype=np.int64),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0, dtype=bool),
        np.flatnonzero(~mv.ok),
        mv.now,
    )
    if nv == 0 or idx_ok.size == 0:
        return empty
    # a track is near when |(x, y) + v·age| <= bound + reach, so |y| <= bound + 2·reach
    reach2 = 2.0 * float(reach[idx_ok].max())
    by_lat = _LatIndex(mv, idx_ok)
    lat0 = np.empty(nv)
    lon0 = np.empty(nv)
    coslat = np.empty(nv)
    bound = np.empty(nv)
    band_lo = np.empty(nv)
    band_hi = np.empty(nv)
    lower = np.empty(nv)
    upper = np.empty(nv)
    start = np.empty(nv)
    end = np.empty(nv)
    radius = np.zeros(nv)
    circle = np.zeros(nv, dtype=bool)
    for k, vol in enumerate(volumes):
        la, lo_ = vol.reference
        lat0[k], lon0[k] = la, lo_
        coslat[k] = math.cos(math.radians(la))
        bound[k] = vol.bound_m()
        dlat = _band_deg(bound[k] + reach2 + 1.0)
        band_lo[k], band_hi[k] = la - dlat, la + dlat
        lower[k], upper[k] = vol.lower_m, vol.upper_m
        start[k] = -np.inf if vol.start is None else vol.start
        end[k] = np.inf if vol.end is None else vol.end
        if vol.center is not None:
            circle[k] = True
            radius[k] = float(vol.radius_m or 0.0)
    # candidate (track, volume) pairs: the tracks in each volume's latitude band and within
    # its reach in longitude (|x| <= bound + 2·reach as for y; no limit near the poles)
    first = np.searchsorted(by_lat.lat, band_lo, side="left")
    last = np.maximum(np.searchsorted(by_lat.lat, band_hi, side="right"), first)
    total = int((last - first).sum())
    if total == 0:
        return empty
    with np.errstate(divide="ignore"):
        lim = np.degrees((bound + reach2 + 2.0) / (EARTH_RADIUS_M * coslat)) * (1 + 1e-9) + 1e-9
    lim = np.where(coslat > 1e-6, lim, 360.0)
    pos = np.empty(total, dtype=np.int64)
    vol = np.empty(total, dtype=np.int64)
    m = _kernels.band_pairs(first, last, by_lat.order, by_lat.lon, lon0, lim, pos, vol)
    trk, vol = idx_ok[pos[:m]], vol[:m]
    # each pair in its volume's plane: the same element-wise numbers as one volume at a time
    x, y = local_xy(mv.lat[trk], mv.lon[trk], lat0[vol], lon0[vol])
    x = x + mv.ve[trk] * mv.age[trk]
    y = y + mv.vn[trk] * mv.age[trk]
    near = np.hypot(x, y) <= bound[vol] + reach[trk] + 1.0
    trk, vol, x, y = trk[near], vol[near], x[near], y[near]
    if not trk.size:
        return empty
    ve, vn = mv.ve[trk], mv.vn[trk]
    # window where band and activity hold
    lo, hi = _band_interval(mv.alt[trk], mv.vs[trk], lower[vol], upper[vol], lookahead_s)
    lo = np.maximum(lo, start[vol] - mv.now)
    hi = np.minimum(hi, end[vol] - mv.now)
    entry = np.full(trk.shape[0], np.nan)
    exit_ = np.full(trk.shape[0], np.nan)
    hinside0 = np.zeros(trk.shape[0], dtype=bool)
    circ = circle[vol]
    if circ.any():
        xc, yc, vec, vnc = x[circ], y[circ], ve[circ], vn[circ]
        r = radius[vol[circ]]
        a = vec * vec + vnc * vnc
        b = xc * vec + yc * vnc
        c = xc * xc + yc * yc - r * r
        inside_c = c <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            disc = b * b - a * c
            sq = np.sqrt(np.maximum(disc, 0.0))
            h_lo = np.where(a > 0, (-b - sq) / a, np.where(inside_c, -np.inf, np.inf))
            h_hi = np.where(a > 0, (-b + sq) / a, np.where(inside_c, np.inf, -np.inf))
        h_lo = np.where((a > 0) & (disc < 0), np.inf, h_lo)
        h_hi = np.where((a > 0) & (disc < 0), -np.inf, h_hi)
        s_ = np.maximum(h_lo, lo[circ])
        e_ = np.minimum(h_hi, hi[circ])
        hit = (s_ <= e_) & (s_ <= lookahead_s) & (e_ >= 0)
        entry[circ] = np.where(hit, np.maximum(s_, 0.0), np.nan)
        exit_[circ] = np.where(hit, np.minimum(e_, lookahead_s), np.nan)
        hinside0[circ] = inside_c
    poly = np.flatnonzero(~circ)
    if poly.size:
        poly = poly[np.argsort(vol[poly], kind="stable")]
        cut = np.flatnonzero(np.diff(vol[poly])) + 1
        for grp in np.split(poly, cut):
            px, py = volumes[int(vol[grp[0]])].local_ring()
            g_entry = np.empty(grp.size)
            g_exit = np.empty(grp.size)
            g_inside = np.empty(grp.size, dtype=bool)
            _kernels.window_polygon_times(
                np.ascontiguousarray(x[grp]),
                np.ascontiguousarray(y[grp]),
                np.ascontiguousarray(ve[grp]),
                np.ascontiguousarray(vn[grp]),
                np.ascontiguousarray(px),
                np.ascontiguousarray(py),
                np.ascontiguousarray(lo[grp]),
                np.ascontiguousarray(hi[grp]),
                float(lookahead_s),
                g_entry,
                g_exit,
                g_inside,
            )
            entry[grp], exit_[grp], hinside0[grp] = g_entry, g_exit, g_inside
    keep = ~np.isnan(entry)
    if not keep.any():
        return empty
    t_idx, v_idx = trk[keep], vol[keep]
    order = np.lexsort((v_idx, t_idx))
    inside = hinside0[keep] & (lo[keep] <= 0.0) & (hi[keep] >= 0.0)
    return AreaProximity(
        np.vstack([t_idx[order], v_idx[order]]),
        entry[keep][order],
        exit_[keep][order],
        inside[order],
        np.flatnonzero(~mv.ok),
        mv.now,
    )


@dataclass(frozen=True, eq=False)
class LineCrossings:
    """Track × line rows: ``pairs[0]`` track index, ``pairs[1]`` line index, ``t_cross`` the
    first crossing within [0, look-ahead] (s after ``now``), ``segment`` the segment crossed."""

    pairs: np.ndarray
    t_cross: np.ndarray
    segment: np.ndarray
    invalid: np.ndarray
    now: float

    def __len__(self) -> int:
        return int(self.pairs.shape[1])


def detect_line_crossings(
    states: TrackStates,
    lines: Sequence[Line],
    lookahead_s: float = 300.0,
    now: float | None = None,
) -> LineCrossings:
    """First predicted crossing of each line by each track within ``lookahead_s`` (horizontal
    only; a track touching a vertex counts as crossing)."""
    if not (math.isfinite(lookahead_s) and lookahead_s >= 0):
        raise InvalidInput("must be a finite non-negative number of seconds", "lookahead_s")
    mv = _moving(states, now)
    idx_ok = np.flatnonzero(mv.ok)
    reach = np.hypot(mv.ve, mv.vn) * (lookahead_s + np.abs(mv.age))
    reach_max = float(reach[idx_ok].max()) if idx_ok.size else 0.0
    by_lat = _LatIndex(mv, idx_ok)
    out_t: list[np.ndarray] = []
    out_l: list[np.ndarray] = []
    out_c: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    for li, line in enumerate(lines):
        pts = np.asarray(line.points)
        lat0, lon0 = float(pts[0, 0]), float(pts[0, 1])
        lx, ly = local_xy(pts[:, 0], pts[:, 1], lat0, lon0)
        # a crossing puts the track on the line: |y − y_line| <= reach (y = R·Δφ + vn·τ')
        dlat = _band_deg(reach_max)
        sel = idx_ok[by_lat.band(float(pts[:, 0].min()) - dlat, float(pts[:, 0].max()) + dlat)]
        if not sel.size:
            continue
        x, y = local_xy(mv.lat[sel], mv.lon[sel], lat0, lon0)
        ve, vn = mv.ve[sel], mv.vn[sel]
        x = x + ve * mv.age[sel]
        y = y + vn * mv.age[sel]
        best = np.full(sel.shape[0], np.inf)
        seg = np.full(sel.shape[0], -1, dtype=np.int64)
        for k in range(pts.shape[0] - 1):
            ex, ey = lx[k + 1] - lx[k], ly[k + 1] - ly[k]
            den = ve * ey - vn * ex
            qx, qy = lx[k] - x, ly[k] - y
            with np.errstate(divide="ignore", invalid="ignore"):
                tau = (qx * ey - qy * ex) / den
                s = (qx * vn - qy * ve) / den
            hit = (den != 0) & (s >= 0) & (s <= 1) & (tau >= 0) & (tau <= lookahead_s)
            better = hit & (tau < best)
            best = np.where(better, tau, best)
            seg = np.where(better, k, seg)
        keep = seg >= 0
        if keep.any():
            out_t.append(sel[keep])
            out_l.append(np.full(int(keep.sum()), li, dtype=np.int64))
            out_c.append(best[keep])
            out_s.append(seg[keep])
    if out_t:
        t_idx, l_idx = np.concatenate(out_t), np.concatenate(out_l)
        order = np.lexsort((l_idx, t_idx))
        return LineCrossings(
            np.vstack([t_idx[order], l_idx[order]]),
            np.concatenate(out_c)[order],
            np.concatenate(out_s)[order],
            np.flatnonzero(~mv.ok),
            mv.now,
        )
    return LineCrossings(
        np.zeros((2, 0), dtype=np.int64),
        np.zeros(0),
        np.zeros(0, dtype=np.int64),
        np.flatnonzero(~mv.ok),
        mv.now,
    )


@dataclass(frozen=True, eq=False)
class Conformance:
    """Per track row: ``has_plan`` (volumes were given for its id), ``conforming`` (inside one of
    its volumes active at its time ``t``, within the tolerances), and for the best volume the
    excess beyond the tolerance, ``horizontal_excess_m`` and ``vertical_excess_m`` (0 when
    conforming, NaN without an active volume), ``volume`` its index in the track's list (-1)."""

    has_plan: np.ndarray
    conforming: np.ndarray
    horizontal_excess_m: np.ndarray
    vertical_excess_m: np.ndarray
    volume: np.ndarray


def _outside_distance(vol: ProtectedVolume, lat: float, lon: float) -> float:
    lat0, lon0 = vol.reference
    x, y = local_xy(np.array([lat]), np.array([lon]), lat0, lon0)
    px, py = float(x[0]), float(y[0])
    if vol.center is not None:
        return max(0.0, math.hypot(px, py) - float(vol.radius_m or 0.0))
    rx, ry = vol.local_ring()
    m = rx.shape[0]
    inside = False
    best = math.inf
    for e in range(m):
        ax, ay, bx, by = rx[e], ry[e], rx[(e + 1) % m], ry[(e + 1) % m]
        if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
            inside = not inside
        ex, ey = bx - ax, by - ay
        ll = ex * ex + ey * ey
        u = 0.0 if ll == 0 else min(1.0, max(0.0, ((px - ax) * ex + (py - ay) * ey) / ll))
        best = min(best, math.hypot(px - ax - u * ex, py - ay - u * ey))
    return 0.0 if inside else best


def conformance(
    states: TrackStates,
    plan_volumes: Mapping[str, Sequence[ProtectedVolume]],
    tolerance_m: float = 0.0,
    vertical_tolerance_m: float | None = None,
) -> Conformance:
    """Is each track inside its own plan's volumes (keyed by ``track_id``), within
    ``tolerance_m`` horizontally and ``vertical_tolerance_m`` (default: ``tolerance_m``)
    vertically, at its own time ``t``? Volumes not active at ``t`` do not count."""
    if not (math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise InvalidInput("must be a finite non-negative number of metres", "tolerance_m")
    vtol = tolerance_m if vertical_tolerance_m is None else float(vertical_tolerance_m)
    n = len(states)
    has = np.zeros(n, dtype=bool)
    conf = np.zeros(n, dtype=bool)
    hx = np.full(n, np.nan)
    vx = np.full(n, np.nan)
    vol_idx = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        vols = plan_volumes.get(str(states.track_id[i]))
        if not vols:
            continue
        has[i] = True
        lat, lon, alt, t = states.lat[i], states.lon[i], states.alt_m[i], states.t[i]
        if not all(math.isfinite(v) for v in (lat, lon, alt, t)):
            continue
        best = math.inf
        for k, vol in enumerate(vols):
            if (vol.start is not None and t < vol.start) or (vol.end is not None and t > vol.end):
                continue
            h = max(0.0, _outside_distance(vol, lat, lon) - tolerance_m)
            v = max(0.0, vol.lower_m - alt - vtol, alt - vol.upper_m - vtol)
            score = math.hypot(h, v)
            if score < best:
                best, hx[i], vx[i], vol_idx[i] = score, h, v, k
        conf[i] = best == 0.0
    return Conformance(has, conf, hx, vx, vol_idx)
