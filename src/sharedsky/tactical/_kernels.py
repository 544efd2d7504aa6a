"""Numba kernels of the tactical engine (private).

Arrays and scalars in, preallocated arrays out; no objects, logging or settings. The public
wrappers in :mod:`sharedsky.tactical.detect` and :mod:`sharedsky.tactical.areas` validate,
convert units and name the results. Every kernel is compiled on first use and cached on disk
(``cache=True``); see the package docstring for the first-call compile time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "assemble_rows",
    "band_pairs",
    "grid_pairs",
    "pair_geometry",
    "swept_boxes",
    "window_polygon_times",
]

_INF = np.inf
# |w|² at or below this (m²/s²) counts as identical velocities (|w| ≤ 1 µm/s).
VREL2_EPS = 1e-12
# The vertical test is |Δz| < H − VERT_EPS (m): altitudes and minima given in feet are not exact
# in binary, so 31 000 ft − 30 000 ft may come out a few nm below 1000 ft; this keeps level
# pairs exactly one minimum apart out of conflict, from both sides.
VERT_EPS = 1e-6


@njit(cache=True, inline="always")
def pair_geometry(
    pxa: float,
    pya: float,
    pza: float,
    vxa: float,
    vya: float,
    vza: float,
    alta: float,
    vsa: float,
    pxb: float,
    pyb: float,
    pzb: float,
    vxb: float,
    vyb: float,
    vzb: float,
    altb: float,
    vsb: float,
    r: float,
    h: float,
    t: float,
) -> tuple[bool, bool, float, float, float, float, float]:
    """Exact narrow phase of one pair: (conflict, los, t_in, t_out, t_cpa, d_cpa, dalt_cpa).

    Positions/velocities are Cartesian on the sphere; the horizontal plane is the tangent plane
    at the midpoint direction; cylinder radius ``r``, half-height ``h``, look-ahead ``t``.
    Every output is bit-identical when (a) and (b) are swapped.
    """
    mx = pxa + pxb
    my = pya + pyb
    mz = pza + pzb
    mn = math.sqrt(mx * mx + my * my + mz * mz)
    if mn < 1.0:
        return False, False, np.nan, np.nan, np.nan, np.nan, np.nan
    mx /= mn
    my /= mn
    mz /= mn
    dx = pxb - pxa
    dy = pyb - pya
    dz = pzb - pza
    dm = dx * mx + dy * my + dz * mz
    dx -= dm * mx
    dy -= dm * my
    dz -= dm * mz
    wx = vxb - vxa
    wy = vyb - vya
    wz = vzb - vza
    wm = wx * mx + wy * my + wz * mz
    wx -= wm * mx
    wy -= wm * my
    wz -= wm * mz
    d2 = dx * dx + dy * dy + dz * dz
    a = wx * wx + wy * wy + wz * wz
    b = dx * wx + dy * wy + dz * wz
    r2 = r * r
    h = h - VERT_EPS
    dalt = altb - alta
    dvs = vsb - vsa
    los = d2 < r2 and abs(dalt) < h
    # horizontal intrusion interval (open)
    if a <= VREL2_EPS:
        tcpa_raw = 0.0
        if d2 < r2:
            hin = -_INF
            hout = _INF
        else:
            hin = _INF
            hout = -_INF
    else:
        tcpa_raw = -b / a
        dc2 = (d2 * a - b * b) / a
        if dc2 < 0.0:
            dc2 = 0.0
        if dc2 < r2:
            half = math.sqrt((r2 - dc2) / a)
            hin = tcpa_raw - half
            hout = tcpa_raw + half
        else:
            hin = _INF
            hout = -_INF
    # vertical intrusion interval (open)
    if dvs == 0.0:
        if abs(dalt) < h:
            vin = -_INF
            vout = _INF
        else:
            vin = _INF
            vout = -_INF
    else:
        t1 = (-h - dalt) / dvs
        t2 = (h - dalt) / dvs
        vin = min(t1, t2)
        vout = max(t1, t2)
    lo = max(hin, vin)
    hi = min(hout, vout)
    conflict = los or (lo < hi and lo < t and hi > 0.0)
    if not conflict:
        return False, False, np.nan, np.nan, np.nan, np.nan, np.nan
    t_in = 0.0 if los else min(max(lo, 0.0), t)
    t_out = min(max(hi, t_in), t)
    tc = min(max(tcpa_raw, 0.0), t)
    cx = dx + wx * tc
    cy = dy + wy * tc
    cz = dz + wz * tc
    dcpa = math.sqrt(cx * cx + cy * cy + cz * cz)
    dalt_cpa = abs(dalt + dvs * tc)
    return True, los, t_in, t_out, tc, dcpa, dalt_cpa


# grid keys: 4 bits of time slot, 15 bits for each of x, y, z and altitude cells
_SLOT_BITS = 4
_AXIS_BITS = 15
_AXIS_MAX = (1 << _AXIS_BITS) - 1
MAX_SLOTS = 1 << _SLOT_BITS


@njit(cache=True, inline="always")
def _cell(v: float, origin: float, size: float) -> np.int64:
    c = math.floor((v - origin) / size)
    if c < 0.0:
        return np.int64(0)
    if c > _AXIS_MAX:
        return np.int64(_AXIS_MAX)
    return np.int64(c)


@njit(cache=True, inline="always")
def _key(s: np.int64, cx: np.int64, cy: np.int64, cz: np.int64, ca: np.int64) -> np.int64:
    return (
        (s << (4 * _AXIS_BITS))
        | (cx << (3 * _AXIS_BITS))
        | (cy << (2 * _AXIS_BITS))
        | (cz << _AXIS_BITS)
        | ca
    )


@njit(cache=True, inline="always")
def _bucket(key: np.int64, mask: np.int64) -> np.int64:
    # splitmix64 finaliser: every key bit reaches the low bits
    h = np.uint64(key)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    h = h ^ (h >> np.uint64(31))
    return np.int64(h & np.uint64(mask))


_ORIGIN_ALT = -50_000.0
# cells along the third axis (mostly "up" once the caller rotates the tracks' centroid to +z)
# are this many times larger: regional traffic spans little of it
Z_CELL_FACTOR = 4.0


@njit(cache=True, inline="always")
def _origin(cell_m: float) -> float:
    return -6_400_000.0 - 4.0 * Z_CELL_FACTOR * cell_m


@njit(cache=True)
def swept_boxes(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    hmargin: np.ndarray,
    vmargin: np.ndarray,
    status: np.ndarray,
    r_max: float,
    h_max: float,
    t_max: float,
    theta: float,
    cell_m: float,
    cell_alt_m: float,
    box: np.ndarray,
    cells: np.ndarray,
    extent: np.ndarray,
) -> int:
    """Space-time swept boxes of every track, per time slot, and their grid cell ranges.

    Inputs: per-track Cartesian position ``p*`` (m, any rotation of Earth-centred coordinates)
    and velocity ``v*`` (m/s), altitude ``alt`` (m), vertical rate ``vs`` (m/s) after level
    occupancy, horizontal and vertical margins (m), ``status`` (2: skipped); the largest radius
    ``r_max``, half-height ``h_max`` and look-ahead ``t_max``; ``theta`` the largest angular
    separation (rad) of a pair that can conflict; grid cell sizes (m).

    Outputs: ``box`` (float32, shape ``(n_slots, n, 8)``: lower x, y, z, altitude then upper
    x, y, z, altitude), ``cells`` (int32, same shape: the cell ranges), ``extent[0:4]`` and
    ``extent[4:8]`` the smallest and largest cell per dimension. For slot s covering
    [s·T/K, (s+1)·T/K] the box holds the start and end points inflated by half the largest
    radius, the track's margin, the tilt allowance ``|v|·T·theta/2`` (the tangent planes of the
    two tracks of a pair differ by at most theta) and 2 m for the float32 rounding. Returns the
    number of (slot, cell) entries.
    """
    ns = box.shape[0]
    n = px.shape[0]
    dt = t_max / ns
    ox = _origin(cell_m)
    for d in range(4):
        extent[d] = _AXIS_MAX
        extent[4 + d] = 0
    n_ent = 0
    for i in range(n):
        if status[i] == 2:
            continue
        speed = math.sqrt(vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i])
        infl = 0.5 * r_max + hmargin[i] + 0.5 * speed * t_max * theta + 3.0
        ainfl = 0.5 * h_max + vmargin[i] + 2.0
        for s in range(ns):
            t0 = s * dt
            t1 = (s + 1) * dt
            x0 = px[i] + vx[i] * t0
            x1 = px[i] + vx[i] * t1
            y0 = py[i] + vy[i] * t0
            y1 = py[i] + vy[i] * t1
            z0 = pz[i] + vz[i] * t0
            z1 = pz[i] + vz[i] * t1
            a0 = alt[i] + vs[i] * t0
            a1 = alt[i] + vs[i] * t1
            box[s, i, 0] = min(x0, x1) - infl
            box[s, i, 4] = max(x0, x1) + infl
            box[s, i, 1] = min(y0, y1) - infl
            box[s, i, 5] = max(y0, y1) + infl
            box[s, i, 2] = min(z0, z1) - infl
            box[s, i, 6] = max(z0, z1) + infl
            box[s, i, 3] = min(a0, a1) - ainfl
            box[s, i, 7] = max(a0, a1) + ainfl
            cnt = 1
            for d in range(4):
                size = cell_m if d < 2 else (cell_m * Z_CELL_FACTOR if d == 2 else cell_alt_m)
                org = ox if d < 3 else _ORIGIN_ALT
                lo_c = _cell(box[s, i, d], org, size)
                hi_c = _cell(box[s, i, 4 + d], org, size)
                cells[s, i, d] = lo_c
                cells[s, i, 4 + d] = hi_c
                extent[d] = min(extent[d], lo_c)
                extent[4 + d] = max(extent[4 + d], hi_c)
                cnt *= hi_c - lo_c + 1
            n_ent += cnt
    return n_ent


@njit(cache=True, inline="always")
def _overlap(box: np.ndarray, s: int, i: int, j: int) -> bool:
    for d in range(4):
        if max(box[s, i, d], box[s, j, d]) > min(box[s, i, 4 + d], box[s, j, 4 + d]):
            return False
    return True


@njit(cache=True)
def grid_pairs(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    hmargin: np.ndarray,
    vmargin: np.ndarray,
    party: np.ndarray,
    status: np.ndarray,
    all_pairs: bool,
    rule_pa: np.ndarray,
    rule_pb: np.ndarray,
    rule_lo: np.ndarray,
    rule_hi: np.ndarray,
    rule_r: np.ndarray,
    rule_h: np.ndarray,
    rule_t: np.ndarray,
    box: np.ndarray,
    cells: np.ndarray,
    extent: np.ndarray,
    cell_m: float,
    cell_alt_m: float,
    dense: bool,
    start: np.ndarray,
    skey: np.ndarray,
    strk: np.ndarray,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_f: np.ndarray,
    out_b: np.ndarray,
    smask: np.ndarray,
) -> tuple[int, int]:
    """Candidate pairs from the grid of :func:`swept_boxes`, then the exact narrow phase.

    Inputs as in :func:`swept_boxes` (positions and velocities in Earth-centred coordinates,
    not rotated) plus integer party codes, ``status`` (0 assess, 1 stale: report cannot-assess,
    2 skip), ``all_pairs`` (else only different parties) and the minima rules (party codes
    ``rule_pa``/``rule_pb``, -1 = any; altitude band ``(rule_lo, rule_hi]`` of the higher track;
    radius, half-height, look-ahead; first match wins, the last rule matches everything);
    ``box``, ``cells``, ``extent`` and the cell sizes from :func:`swept_boxes`.

    Workspace: ``start`` (int32, number of buckets plus one), ``strk`` (int32), ``smask``
    (int8) and, when not ``dense``, ``skey`` (int64), all of at least the number of entries.
    Entries (slot, x, y, z, altitude cell) are counting-sorted by bucket: the dense cell index
    within ``extent`` when ``dense`` (one bucket per cell; cache-friendly when tracks are
    sorted spatially), else a hash of the cell into a power-of-two number of buckets. A pair
    is tested once: in the FIRST slot where its boxes overlap, in the cell holding the lower
    corner of that overlap. That cell is found without arithmetic: ``smask`` records, per
    entry, in which dimensions the box STARTS in the entry's cell (bit d: x, y, z, altitude);
    as cell indices are monotonic in the coordinate, the overlap's lower corner
    ``max(lo_a, lo_b)`` lies in this cell exactly when, in every dimension, one of the two
    boxes starts here. Each bucket's boxes are copied next to each other before its pairs are
    visited.

    Outputs (capacity ``cap = len(out_i)``): pair indices ``out_i < out_j``, one row of
    ``out_f`` (shape ``(cap, 8)``) per pair = t_in, t_out, t_cpa, d_cpa, dalt_cpa, R, H, T and
    of ``out_b`` (``(cap, 2)``) = los, cannot_assess.
    Returns (number of result rows, which may exceed cap: call again with a larger cap; number
    of candidate pairs tested exactly).
    """
    n = px.shape[0]
    ns = box.shape[0]
    cap = out_i.shape[0]
    nr = rule_r.shape[0]
    nb = start.shape[0] - 1
    mask = np.int64(nb - 1)
    na = extent[7] - extent[3] + 1
    nz = (extent[6] - extent[2] + 1) * na
    ny = (extent[5] - extent[1] + 1) * nz
    nx = (extent[4] - extent[0] + 1) * ny
    start[:] = 0
    kmax = 0
    for fill in range(2):
        for i in range(n):
            if status[i] == 2:
                continue
            for s in range(ns):
                c = cells[s, i]
                for cx in range(c[0], c[4] + 1):
                    for cy in range(c[1], c[5] + 1):
                        for cz in range(c[2], c[6] + 1):
                            for ca in range(c[3], c[7] + 1):
                                if dense:
                                    b = (
                                        s * nx
                                        + (cx - extent[0]) * ny
                                        + (cy - extent[1]) * nz
                                        + (cz - extent[2]) * na
                                        + (ca - extent[3])
                                    )
                                    key = b
                                else:
                                    key = _key(np.int64(s), cx, cy, cz, ca)
                                    b = _bucket(key, mask)
                                if fill == 0:
                                    start[b + 1] += 1
                                else:
                                    p = start[b]
                                    if not dense:
                                        skey[p] = key
                                    strk[p] = i
                                    smask[p] = (
                                        (1 if cx == c[0] else 0)
                                        | (2 if cy == c[1] else 0)
                                        | (4 if cz == c[2] else 0)
                                        | (8 if ca == c[3] else 0)
                                    )
                                    start[b] = p + 1
        if fill == 0:
            for b in range(nb):
                kmax = max(kmax, start[b + 1])
                start[b + 1] += start[b]
    # start[b] is now the end of bucket b (= the start of bucket b + 1)
    count = 0
    ncand = 0
    e0 = 0
    # one bucket's entries gathered contiguously: boxes, tracks, start masks, keys
    lb = np.empty((max(kmax, 1), 8), dtype=np.float32)
    lt = np.empty(max(kmax, 1), dtype=np.int64)
    lm = np.empty(max(kmax, 1), dtype=np.int64)
    lk = np.empty(max(kmax, 1), dtype=np.int64)
    for b in range(nb):
        e1 = start[b]
        k = e1 - e0
        if k < 2:
            e0 = e1
            continue
        s = 0
        if dense:
            s = b // nx
        for q in range(k):
            e = e0 + q
            i0 = strk[e]
            if not dense:
                key = skey[e]
                lk[q] = key
                s = key >> (4 * _AXIS_BITS)
            lt[q] = i0
            lm[q] = smask[e]
            for d in range(8):
                lb[q, d] = box[s, i0, d]
        e0 = e1
        for qa in range(k - 1):
            ma = lm[qa]
            i0 = lt[qa]
            ka = lk[qa] if not dense else 0
            x0 = lb[qa, 0]
            y0 = lb[qa, 1]
            z0 = lb[qa, 2]
            a0 = lb[qa, 3]
            x1 = lb[qa, 4]
            y1 = lb[qa, 5]
            z1 = lb[qa, 6]
            a1 = lb[qa, 7]
            for qb in range(qa + 1, k):
                # the pair is tested in the cell holding the lower corner of the boxes'
                # overlap: there, in every dimension, one of the two boxes starts
                if (ma | lm[qb]) != 15:
                    continue
                if not dense and lk[qb] != ka:
                    continue
                ov = (
                    (max(x0, lb[qb, 0]) <= min(x1, lb[qb, 4]))
                    & (max(y0, lb[qb, 1]) <= min(y1, lb[qb, 5]))
                    & (max(z0, lb[qb, 2]) <= min(z1, lb[qb, 6]))
                    & (max(a0, lb[qb, 3]) <= min(a1, lb[qb, 7]))
                )
                if not ov:
                    continue
                j0 = lt[qb]
                i = min(i0, j0)
                j = max(i0, j0)
                if not all_pairs and party[i] == party[j]:
                    continue
                s = b // nx if dense else ka >> (4 * _AXIS_BITS)
                # ... of the first slot where the boxes overlap
                earlier = False
                for s2 in range(s):
                    if _overlap(box, s2, i, j):
                        earlier = True
                        break
                if earlier:
                    continue
                ncand += 1
                if status[i] == 1 or status[j] == 1:
                    if count < cap:
                        out_i[count] = i
                        out_j[count] = j
                        for q in range(8):
                            out_f[count, q] = np.nan
                        out_b[count, 0] = False
                        out_b[count, 1] = True
                    count += 1
                    continue
                top = max(alt[i], alt[j])
                rr = nr - 1
                for q in range(nr):
                    pa = rule_pa[q]
                    if pa >= 0:
                        pb = rule_pb[q]
                        if not (
                            (pa == party[i] and pb == party[j])
                            or (pa == party[j] and pb == party[i])
                        ):
                            continue
                    if rule_lo[q] < top <= rule_hi[q]:
                        rr = q
                        break
                rad = rule_r[rr] + hmargin[i] + hmargin[j]
                hh = rule_h[rr] + vmargin[i] + vmargin[j]
                tt = rule_t[rr]
                hit, los, t_in, t_out, tc, dcpa, dac = pair_geometry(
                    px[i],
                    py[i],
                    pz[i],
                    vx[i],
                    vy[i],
                    vz[i],
                    alt[i],
                    vs[i],
                    px[j],
                    py[j],
                    pz[j],
                    vx[j],
                    vy[j],
                    vz[j],
                    alt[j],
                    vs[j],
                    rad,
                    hh,
                    tt,
                )
                if not hit:
                    continue
                if count < cap:
                    out_i[count] = i
                    out_j[count] = j
                    out_f[count, 0] = t_in
                    out_f[count, 1] = t_out
                    out_f[count, 2] = tc
                    out_f[count, 3] = dcpa
                    out_f[count, 4] = dac
                    out_f[count, 5] = rad
                    out_f[count, 6] = hh
                    out_f[count, 7] = tt
                    out_b[count, 0] = los
                    out_b[count, 1] = False
                count += 1
    return count, ncand


@njit(cache=True)
def assemble_rows(
    order: np.ndarray,
    count: int,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_f: np.ndarray,
    out_b: np.ndarray,
    pairs: np.ndarray,
    cols: np.ndarray,
    flags: np.ndarray,
) -> None:
    """The first ``count`` rows of :func:`grid_pairs` (track indices in the order ``order``
    maps back to the caller's rows) sorted by (a, b) with a < b the caller's indices:
    ``pairs`` (2, count), ``cols`` (8, count) the columns of ``out_f``, ``flags`` (2, count)
    those of ``out_b``. A counting sort by a, then by b within each a (pairs are unique)."""
    n = order.shape[0]
    head = np.zeros(n + 1, dtype=np.int64)
    for r in range(count):
        a = min(order[out_i[r]], order[out_j[r]])
        head[a + 1] += 1
    for a in range(n):
        head[a + 1] += head[a]
    src = np.empty(count, dtype=np.int64)
    for r in range(count):
        oi = order[out_i[r]]
        oj = order[out_j[r]]
        a = min(oi, oj)
        dst = head[a]
        head[a] = dst + 1
        pairs[0, dst] = a
        pairs[1, dst] = max(oi, oj)
        src[dst] = r
    # head[a] is now the end of group a; insertion sort each group by b
    g0 = 0
    for a in range(n):
        g1 = head[a]
        for p in range(g0 + 1, g1):
            bb = pairs[1, p]
            rr = src[p]
            q = p - 1
            while q >= g0 and pairs[1, q] > bb:
                pairs[1, q + 1] = pairs[1, q]
                src[q + 1] = src[q]
                q -= 1
            pairs[1, q + 1] = bb
            src[q + 1] = rr
        g0 = g1
    for dst in range(count):
        r = src[dst]
        for q in range(8):
            cols[q, dst] = out_f[r, q]
        flags[0, dst] = out_b[r, 0]
        flags[1, dst] = out_b[r, 1]


@njit(cache=True)
def band_pairs(
    first: np.ndarray,
    last: np.ndarray,
    order: np.ndarray,
    lon_sorted: np.ndarray,
    lon0: np.ndarray,
    lim_deg: np.ndarray,
    out_pos: np.ndarray,
    out_shape: np.ndarray,
) -> int:
    """Broad phase of track × shape tests: for each shape k, the tracks at sorted positions
    ``first[k] <= p < last[k]`` (its latitude band) whose longitude differs from ``lon0[k]`` by
    at most ``lim_deg[k]`` (wrapped to [−180°, 180°)). Writes their ``order[p]`` and k to
    ``out_pos``/``out_shape`` (capacity: the sum of the band sizes); returns how many."""
    m = 0
    for k in range(first.shape[0]):
        c = lon0[k]
        lim = lim_deg[k]
        for p in range(first[k], last[k]):
            d = (lon_sorted[p] - c + 180.0) % 360.0 - 180.0
            if abs(d) <= lim:
                out_pos[m] = order[p]
                out_shape[m] = k
                m += 1
    return m


@njit(cache=True, inline="always")
def _point_in_ring(x: float, y: float, rx: np.ndarray, ry: np.ndarray) -> bool:
    m = rx.shape[0]
    inside = False
    for e in range(m):
        ax = rx[e]
        ay = ry[e]
        bx = rx[(e + 1) % m]
        by = ry[(e + 1) % m]
        if (ay > y) != (by > y):
            xc = ax + (y - ay) * (bx - ax) / (by - ay)
            if x < xc:
                inside = not inside
    return inside


@njit(cache=True)
def window_polygon_times(
    x0: np.ndarray,
    y0: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    poly_x: np.ndarray,
    poly_y: np.ndarray,
    win_lo: np.ndarray,
    win_hi: np.ndarray,
    t_max: float,
    out_entry: np.ndarray,
    out_exit: np.ndarray,
    out_inside0: np.ndarray,
) -> None:
    """Tracks moving linearly ``(x0 + ux·τ, y0 + uy·τ)`` in a plane against one polygon ring
    (``poly_x``, ``poly_y``, first vertex not repeated). For each track, the first stretch of
    ``τ ∈ [0, t_max]`` inside the polygon that overlaps the track's window ``[win_lo, win_hi]``
    (vertical band and activity) gives ``out_entry``/``out_exit`` (NaN if none);
    ``out_inside0`` is whether the track's position at τ = 0 is inside the polygon.
    """
    m = poly_x.shape[0]
    times = np.empty(m + 2)
    for i in range(x0.shape[0]):
        out_inside0[i] = _point_in_ring(x0[i], y0[i], poly_x, poly_y)
        out_entry[i] = np.nan
        out_exit[i] = np.nan
        lo_w = max(win_lo[i], 0.0)
        hi_w = min(win_hi[i], t_max)
        if lo_w > hi_w:
            continue
        nt = 0
        times[nt] = 0.0
        nt += 1
        for e in range(m):
            ax = poly_x[e]
            ay = poly_y[e]
            ex = poly_x[(e + 1) % m] - ax
            ey = poly_y[(e + 1) % m] - ay
            den = ux[i] * ey - uy[i] * ex
            if den == 0.0:
                continue
            qx = ax - x0[i]
            qy = ay - y0[i]
            tau = (qx * ey - qy * ex) / den
            s = (qx * uy[i] - qy * ux[i]) / den
            if 0.0 <= s <= 1.0 and 0.0 < tau < t_max:
                times[nt] = tau
                nt += 1
        times[nt] = t_max
        nt += 1
        ts = np.sort(times[:nt])
        for k in range(nt - 1):
            ta = ts[k]
            tb = ts[k + 1]
            if tb <= ta and not (k == 0 and t_max == 0.0):
                continue
            tm = 0.5 * (ta + tb)
            if not _point_in_ring(x0[i] + ux[i] * tm, y0[i] + uy[i] * tm, poly_x, poly_y):
                continue
            # stretch [ta, tb] is inside; merge following inside stretches
            end = tb
            for k2 in range(k + 1, nt - 1):
                tc = ts[k2]
                td = ts[k2 + 1]
                if td <= tc:
                    continue
                tm2 = 0.5 * (tc + td)
                if _point_in_ring(x0[i] + ux[i] * tm2, y0[i] + uy[i] * tm2, poly_x, poly_y):
                    end = td
                else:
                    break
            s_ = max(ta, lo_w)
            e_ = min(end, hi_w)
            if s_ <= e_:
                out_entry[i] = s_
                out_exit[i] = e_
                break


@njit(cache=True)
def advise_pairs(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    radius: np.ndarray,
    half_height: np.ndarray,
    lookahead: np.ndarray,
    heading_step: float,
    heading_max: float,
    speed_step: float,
    speed_max: float,
    vs_step: float,
    vs_max: float,
    out: np.ndarray,
) -> None:
    """Smallest single manoeuvre of one aircraft (the other unchanged) after which the pair is
    no longer in conflict under :func:`pair_geometry`.

    Inputs: the detection frame's per-track arrays (Earth-centred positions and velocities,
    altitude and vertical rate after level occupancy), the conflict pairs with their radius,
    half-height and look-ahead, and the search grids: heading changes in ``heading_step``
    (rad) up to ``heading_max``, ground-speed changes in ``speed_step`` up to ``speed_max``
    (m/s, never below 0), vertical-rate changes in ``vs_step`` up to ``vs_max`` (m/s). For each
    size the positive change is tried first. ``out`` (shape ``(6, m)``): heading change of i, of
    j (rad), speed change of i, of j, vertical-rate change of i, of j; NaN when none within the
    limits (always for a pair already in loss of separation: no manoeuvre undoes it at once).
    """
    m = pair_i.shape[0]
    for k in range(m):
        for q in range(6):
            out[q, k] = np.nan
        i = pair_i[k]
        j = pair_j[k]
        r = radius[k]
        h = half_height[k]
        t = lookahead[k]
        hit, los, _, _, _, _, _ = pair_geometry(
            px[i], py[i], pz[i], vx[i], vy[i], vz[i], alt[i], vs[i],
            px[j], py[j], pz[j], vx[j], vy[j], vz[j], alt[j], vs[j], r, h, t,
        )  # fmt: skip
        if los or not hit:
            continue
        for side in range(2):
            a = i if side == 0 else j
            o = j if side == 0 else i
            pn = math.sqrt(px[a] * px[a] + py[a] * py[a] + pz[a] * pz[a])
            ux = px[a] / pn
            uy = py[a] / pn
            uz = pz[a] / pn
            # local east and north at a (east defined from the longitude, also at the poles)
            lon = math.atan2(uy, ux)
            ex = -math.sin(lon)
            ey = math.cos(lon)
            nx_ = -uz * math.cos(lon)
            ny_ = -uz * math.sin(lon)
            nz_ = math.sqrt(max(0.0, 1.0 - uz * uz))
            ve = vx[a] * ex + vy[a] * ey
            vn = vx[a] * nx_ + vy[a] * ny_ + vz[a] * nz_
            gs = math.sqrt(ve * ve + vn * vn)
            trk = math.atan2(ve, vn)
            for kind in range(3):
                step = heading_step if kind == 0 else (speed_step if kind == 1 else vs_step)
                limit = heading_max if kind == 0 else (speed_max if kind == 1 else vs_max)
                if step <= 0.0:
                    continue
                n_steps = int(limit / step + 1e-9)
                found = np.nan
                for s_ in range(1, n_steps + 1):
                    for sign in (1.0, -1.0):
                        delta = sign * s_ * step
                        g2 = gs
                        t2 = trk
                        v2 = vs[a]
                        if kind == 0:
                            t2 = trk + delta
                        elif kind == 1:
                            g2 = gs + delta
                            if g2 < 0.0:
                                continue
                        else:
                            v2 = vs[a] + delta
                        e2 = g2 * math.sin(t2)
                        n2 = g2 * math.cos(t2)
                        wx = e2 * ex + n2 * nx_
                        wy = e2 * ey + n2 * ny_
                        wz = n2 * nz_
                        c, _, _, _, _, _, _ = pair_geometry(
                            px[a], py[a], pz[a], wx, wy, wz, alt[a], v2,
                            px[o], py[o], pz[o], vx[o], vy[o], vz[o], alt[o], vs[o], r, h, t,
                        )  # fmt: skip
                        if not c:
                            found = delta
                            break
                    if not np.isnan(found):
                        break
                out[2 * kind + side, k] = found
