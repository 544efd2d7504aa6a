"""Numba kernels of the tactical engine (private).

Arrays and scalars in, preallocated arrays out; no objects, logging or settings. The public
wrappers in :mod:`sharedsky.tactical.detect` and :mod:`sharedsky.tactical.areas` validate,
convert units and name the results. Every kernel is compiled on first use and cached on disk
(``cache=True``); see the package docstring for the first-call compile time.

The file is longer than the project's other modules (about 1 200 lines) on purpose: numba
compiles a kernel together with the ``@njit`` helpers it calls, and those helpers (the sphere
geometry mirrored from :mod:`sharedsky.geo.geodesy`, the per-pair CPA, the polygon tests) are
shared by the pair, area and line kernels. Keeping them in one module keeps one copy of each and
one on-disk cache, instead of imports between kernel files that numba would inline anyway.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "assemble_rows",
    "band_pairs",
    "frame_order",
    "frame_stats",
    "grid_pairs",
    "pair_geometry",
    "prepare_states",
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


@njit(cache=True)
def prepare_states(
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    alt_m: np.ndarray,
    gs_mps: np.ndarray,
    trk_deg: np.ndarray,
    vs_mps: np.ndarray,
    pos_accuracy_m: np.ndarray,
    vel_accuracy_mps: np.ndarray,
    now_given: float,
    use_now: bool,
    levels: bool,
    level_step_m: float,
    level_tolerance_m: float,
    level_max_vs_mps: float,
    default_pos_accuracy_m: float,
    default_vel_accuracy_mps: float,
    horizontal_growth_mps: float,
    vertical_growth_mps: float,
    max_age_s: float,
    earth_radius_m: float,
    out: np.ndarray,
    status: np.ndarray,
) -> tuple[float, int, bool]:
    """Per-track detection frame in one pass (the documented geometry of
    :mod:`sharedsky.tactical.detect`, operation for operation as its vectorised form).

    Inputs: the states' SI columns; the detection time ``now_given`` when ``use_now`` (else the
    latest ``t`` of the valid rows, 0 without any); level occupancy (``levels``: on/off, step,
    tolerance, largest |vs|); data quality defaults and growth rates; the sphere radius.
    Outputs: ``out`` (shape ``(10, n)``): Earth-centred position x, y, z and velocity x, y, z
    at ``now``, altitude and vertical rate after level occupancy, horizontal and vertical margin;
    ``status`` (int8): 0 assess, 1 older than ``max_age_s``, 2 invalid (a required field not
    finite, |lat| > 90 or gs < 0; its outputs are those of an all-zero row and its margins 0).
    Returns (now, number of invalid rows, whether every margin is finite and non-negative).
    """
    n = t.shape[0]
    nbad = 0
    for k in range(n):
        bad = not (
            math.isfinite(t[k])
            and math.isfinite(lat[k])
            and math.isfinite(lon[k])
            and math.isfinite(alt_m[k])
            and math.isfinite(gs_mps[k])
            and math.isfinite(trk_deg[k])
            and math.isfinite(vs_mps[k])
            and abs(lat[k]) <= 90.0
            and gs_mps[k] >= 0.0
        )
        status[k] = 2 if bad else 0
        nbad += 1 if bad else 0
    if use_now:
        now = now_given
    else:
        now = -_INF
        for k in range(n):
            if status[k] != 2 and t[k] > now:
                now = t[k]
        if now == -_INF:
            now = 0.0
    margins_ok = True
    deg = math.pi / 180.0
    for k in range(n):
        bad = status[k] == 2
        if bad:
            age = 0.0
            gs = 0.0
            vs0 = 0.0
            lat0 = 0.0
            lon0 = 0.0
            trk = 0.0
            alt0 = 0.0
        else:
            age = now - t[k]
            gs = gs_mps[k]
            vs0 = vs_mps[k]
            lat0 = lat[k] * deg
            lon0 = lon[k] * deg
            trk = trk_deg[k] * deg
            alt0 = alt_m[k]
        # great-circle extrapolation by gs*age along the track: sharedsky.geo.destination,
        # inline (numba cannot call it), plus the final bearing at the new point
        delta = gs * age / earth_radius_m
        la = lat0
        lo = lon0
        tr = trk
        if delta != 0.0:
            sl = math.sin(lat0)
            cl = math.cos(lat0)
            sd = math.sin(delta)
            cd = math.cos(delta)
            st = math.sin(trk)
            ct = math.cos(trk)
            arg = sl * cd + cl * sd * ct
            la = math.asin(min(max(arg, -1.0), 1.0))
            lo = lon0 + math.atan2(st * sd * cl, cd - sl * math.sin(la))
            # final bearing of the great circle at the new point
            back = math.atan2(
                math.sin(lon0 - lo) * cl,
                math.cos(la) * sl - math.sin(la) * cl * math.cos(lon0 - lo),
            )
            tr = back + math.pi
        alt = alt0 + vs0 * age
        vs = vs0
        if levels:
            level = np.rint(alt / level_step_m) * level_step_m
            if abs(vs) <= level_max_vs_mps and abs(alt - level) <= level_tolerance_m:
                alt = level
                vs = 0.0
        # position in the Earth-centred frame: sharedsky.geo.ecef, inline
        sphi = math.sin(la)
        cphi = math.cos(la)
        slam = math.sin(lo)
        clam = math.cos(lo)
        ve = gs * math.sin(tr)
        vn = gs * math.cos(tr)
        out[0, k] = earth_radius_m * cphi * clam
        out[1, k] = earth_radius_m * cphi * slam
        out[2, k] = earth_radius_m * sphi
        out[3, k] = -slam * ve - sphi * clam * vn
        out[4, k] = clam * ve - sphi * slam * vn
        out[5, k] = cphi * vn
        out[6, k] = alt
        out[7, k] = vs
        aage = abs(age)
        pacc = pos_accuracy_m[k]
        if math.isnan(pacc):
            pacc = default_pos_accuracy_m
        vacc = vel_accuracy_mps[k]
        if math.isnan(vacc):
            vacc = default_vel_accuracy_mps
        if bad:
            hm = 0.0
            vm = 0.0
        else:
            hm = pacc + (vacc + horizontal_growth_mps) * aage
            vm = vertical_growth_mps * aage
            if aage > max_age_s:
                status[k] = 1
        if not (math.isfinite(hm) and hm >= 0.0):
            margins_ok = False
        out[8, k] = hm
        out[9, k] = vm
    return now, nbad, margins_ok


@njit(cache=True)
def frame_stats(prep: np.ndarray, status: np.ndarray) -> tuple[float, float, float, int, float]:
    """Sums of the valid tracks' positions (rows 0-2 of ``prep`` from :func:`prepare_states`),
    their number, and a typical speed: the median of |v| over every ``max(1, m // 1000)``-th of
    the m valid tracks (exactness does not matter, it sizes grid cells)."""
    n = status.shape[0]
    sx = 0.0
    sy = 0.0
    sz = 0.0
    m = 0
    for k in range(n):
        if status[k] != 2:
            sx += prep[0, k]
            sy += prep[1, k]
            sz += prep[2, k]
            m += 1
    if m == 0:
        return sx, sy, sz, m, 0.0
    step = max(1, m // 1000)
    sample = np.empty((m + step - 1) // step)
    q = 0
    j = 0
    for k in range(n):
        if status[k] != 2:
            if q % step == 0:
                vx = prep[3, k]
                vy = prep[4, k]
                vz = prep[5, k]
                sample[j] = math.sqrt(vx * vx + vy * vy + vz * vz)
                j += 1
            q += 1
    return sx, sy, sz, m, float(np.median(sample[:j]))


@njit(cache=True)
def frame_order(
    prep: np.ndarray,
    status: np.ndarray,
    party: np.ndarray,
    rot: np.ndarray,
    cell_m: float,
    order: np.ndarray,
    out: np.ndarray,
    out_status: np.ndarray,
    out_party: np.ndarray,
) -> tuple[float, float]:
    """Tracks in a spatial order, gathered for the broad and narrow phases.

    Inputs: ``prep`` (10, n) from :func:`prepare_states`, its ``status``, integer ``party``
    codes, a rotation ``rot`` (3, 3: rows are the new x, y, z axes) and the grid cell ``cell_m``.
    The order sorts the valid tracks by (x cell, y cell) of their rotated positions (stable, a
    counting sort when the cells are few; invalid rows take the first valid row's cell), so
    that the grid is filled and read with locality. Outputs: ``order`` (original row of each
    sorted position); ``out`` (10, n): the rows of ``prep`` in that order; ``out_status``,
    ``out_party`` likewise. Returns the largest speed and the largest horizontal margin of the
    valid tracks (0 without any).
    """
    n = status.shape[0]
    first = -1
    for k in range(n):
        if status[k] != 2:
            first = k
            break
    if first < 0:
        for k in range(n):
            order[k] = k
    else:
        cxs = np.empty(n, dtype=np.int64)
        cys = np.empty(n, dtype=np.int64)
        cx_lo = np.int64(1) << 62
        cy_lo = np.int64(1) << 62
        cx_hi = -cx_lo
        cy_hi = -cy_lo
        for k in range(n):
            r = k if status[k] != 2 else first
            x = rot[0, 0] * prep[0, r] + rot[0, 1] * prep[1, r] + rot[0, 2] * prep[2, r]
            y = rot[1, 0] * prep[0, r] + rot[1, 1] * prep[1, r] + rot[1, 2] * prep[2, r]
            cx = np.int64(math.floor(x / cell_m))
            cy = np.int64(math.floor(y / cell_m))
            cxs[k] = cx
            cys[k] = cy
            cx_lo = min(cx_lo, cx)
            cy_lo = min(cy_lo, cy)
            cx_hi = max(cx_hi, cx)
            cy_hi = max(cy_hi, cy)
        span = cy_hi - cy_lo + 1
        nkeys = (cx_hi - cx_lo + 1) * span
        keys = np.empty(n, dtype=np.int64)
        for k in range(n):
            keys[k] = (cxs[k] - cx_lo) * span + (cys[k] - cy_lo)
        if nkeys <= 4 * n + 65536:
            head = np.zeros(nkeys + 1, dtype=np.int64)
            for k in range(n):
                head[keys[k] + 1] += 1
            for c in range(nkeys):
                head[c + 1] += head[c]
            for k in range(n):
                c = keys[k]
                order[head[c]] = k
                head[c] += 1
        else:
            order[:] = np.argsort(keys, kind="mergesort")
    v_max = 0.0
    hm_max = 0.0
    for q in range(n):
        k = order[q]
        for d in range(10):
            out[d, q] = prep[d, k]
        out_status[q] = status[k]
        out_party[q] = party[k]
        if status[k] != 2:
            wx = rot[0, 0] * prep[3, k] + rot[0, 1] * prep[4, k] + rot[0, 2] * prep[5, k]
            wy = rot[1, 0] * prep[3, k] + rot[1, 1] * prep[4, k] + rot[1, 2] * prep[5, k]
            wz = rot[2, 0] * prep[3, k] + rot[2, 1] * prep[4, k] + rot[2, 2] * prep[5, k]
            v_max = max(v_max, math.sqrt(wx * wx + wy * wy + wz * wz))
            hm_max = max(hm_max, prep[8, k])
    return v_max, hm_max


# grid keys: 4 bits of time slot, 15 bits for each of x, y, z and altitude cells
_SLOT_BITS = 4
_AXIS_BITS = 15
_AXIS_MAX = (1 << _AXIS_BITS) - 1
MAX_SLOTS = 1 << _SLOT_BITS


@njit(cache=True, inline="always")
def _cell(v: float, origin: float, inv_size: float) -> np.int64:
    # a multiplication, not a division: any monotonic map of the coordinate, the same for
    # every track, is a valid cell index
    c = math.floor((v - origin) * inv_size)
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
    rot: np.ndarray,
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

    Inputs: per-track Earth-centred position ``p*`` (m) and velocity ``v*`` (m/s), turned by
    the rotation ``rot`` (3, 3: rows are the new x, y, z axes) for the boxes, altitude ``alt``
    (m), vertical rate ``vs`` (m/s) after level occupancy, horizontal and vertical margins
    (m), ``status`` (2: skipped); the largest radius ``r_max``, half-height ``h_max`` and
    look-ahead ``t_max``; ``theta`` the largest angular separation (rad) of a pair that can
    conflict; grid cell sizes (m).

    Outputs: ``box`` (float32, shape ``(n_slots, n, 8)``: lower x, y, z, altitude then upper
    x, y, z, altitude), ``cells`` (int16, same shape: the cell ranges), ``extent[0:4]`` and
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
    inv_xy = 1.0 / cell_m
    inv_z = 1.0 / (cell_m * Z_CELL_FACTOR)
    inv_alt = 1.0 / cell_alt_m
    for d in range(4):
        extent[d] = _AXIS_MAX
        extent[4 + d] = 0
    n_ent = 0
    for i in range(n):
        if status[i] == 2:
            continue
        x = rot[0, 0] * px[i] + rot[0, 1] * py[i] + rot[0, 2] * pz[i]
        y = rot[1, 0] * px[i] + rot[1, 1] * py[i] + rot[1, 2] * pz[i]
        z = rot[2, 0] * px[i] + rot[2, 1] * py[i] + rot[2, 2] * pz[i]
        wx = rot[0, 0] * vx[i] + rot[0, 1] * vy[i] + rot[0, 2] * vz[i]
        wy = rot[1, 0] * vx[i] + rot[1, 1] * vy[i] + rot[1, 2] * vz[i]
        wz = rot[2, 0] * vx[i] + rot[2, 1] * vy[i] + rot[2, 2] * vz[i]
        speed = math.sqrt(wx * wx + wy * wy + wz * wz)
        infl = 0.5 * r_max + hmargin[i] + 0.5 * speed * t_max * theta + 3.0
        ainfl = 0.5 * h_max + vmargin[i] + 2.0
        for s in range(ns):
            t0 = s * dt
            t1 = (s + 1) * dt
            x0 = x + wx * t0
            x1 = x + wx * t1
            y0 = y + wy * t0
            y1 = y + wy * t1
            z0 = z + wz * t0
            z1 = z + wz * t1
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
                inv = inv_xy if d < 2 else (inv_z if d == 2 else inv_alt)
                org = ox if d < 3 else _ORIGIN_ALT
                lo_c = _cell(box[s, i, d], org, inv)
                hi_c = _cell(box[s, i, 4 + d], org, inv)
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


_BATCH = 512


@njit(cache=True)
def _narrow_batch(
    cand_i: np.ndarray,
    cand_j: np.ndarray,
    m: int,
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
    rule_pa: np.ndarray,
    rule_pb: np.ndarray,
    rule_lo: np.ndarray,
    rule_hi: np.ndarray,
    rule_r: np.ndarray,
    rule_h: np.ndarray,
    rule_t: np.ndarray,
    count: int,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_f: np.ndarray,
    out_b: np.ndarray,
) -> int:
    """Exact tests of the first ``m`` candidate pairs ``(cand_i, cand_j)`` (i < j), arguments
    as in :func:`grid_pairs`: result rows appended from row ``count`` (written only below the
    capacity); returns the new row count."""
    cap = out_i.shape[0]
    nr = rule_r.shape[0]
    for c in range(m):
        i = cand_i[c]
        j = cand_j[c]
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
                if not ((pa == party[i] and pb == party[j]) or (pa == party[j] and pb == party[i])):
                    continue
            if rule_lo[q] < top <= rule_hi[q]:
                rr = q
                break
        rad = rule_r[rr] + hmargin[i] + hmargin[j]
        hh = rule_h[rr] + vmargin[i] + vmargin[j]
        tt = rule_t[rr]
        hit, los, t_in, t_out, tc, dcpa, dac = pair_geometry(
            px[i], py[i], pz[i], vx[i], vy[i], vz[i], alt[i], vs[i],
            px[j], py[j], pz[j], vx[j], vy[j], vz[j], alt[j], vs[j], rad, hh, tt,
        )  # fmt: skip
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
    return count


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
    ebucket: np.ndarray,
    etrk: np.ndarray,
    emask: np.ndarray,
    ekey: np.ndarray,
) -> tuple[int, int]:
    """Candidate pairs from the grid of :func:`swept_boxes`, then the exact narrow phase.

    Inputs as in :func:`swept_boxes` (positions and velocities in Earth-centred coordinates,
    not rotated) plus integer party codes, ``status`` (0 assess, 1 stale: report cannot-assess,
    2 skip), ``all_pairs`` (else only different parties) and the minima rules (party codes
    ``rule_pa``/``rule_pb``, -1 = any; altitude band ``(rule_lo, rule_hi]`` of the higher track;
    radius, half-height, look-ahead; first match wins, the last rule matches everything);
    ``box``, ``cells``, ``extent`` and the cell sizes from :func:`swept_boxes`.

    Workspace: ``start`` (int32, number of buckets plus one), ``strk``, ``etrk``, ``ebucket``
    (int32), ``smask``, ``emask`` (int8) and, when not ``dense``, ``skey``, ``ekey`` (int64),
    all of at least the number of entries. One pass over the boxes lists every entry (slot,
    x, y, z, altitude cell) with its bucket (``e*`` arrays); a counting sort by bucket then
    orders them (``s*`` arrays). The bucket is the dense cell index
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
    nb = start.shape[0] - 1
    mask = np.int64(nb - 1)
    na = extent[7] - extent[3] + 1
    nz = (extent[6] - extent[2] + 1) * na
    ny = (extent[5] - extent[1] + 1) * nz
    nx = (extent[4] - extent[0] + 1) * ny
    start[:] = 0
    kmax = 0
    ex0 = np.int64(extent[0])
    ex1 = np.int64(extent[1])
    ex2 = np.int64(extent[2])
    ex3 = np.int64(extent[3])
    # one pass over the boxes: each entry's bucket, track and start mask, and the bucket sizes
    e = 0
    for i in range(n):
        if status[i] == 2:
            continue
        for s in range(ns):
            c0 = np.int64(cells[s, i, 0])
            c1 = np.int64(cells[s, i, 1])
            c2 = np.int64(cells[s, i, 2])
            c3 = np.int64(cells[s, i, 3])
            c4 = np.int64(cells[s, i, 4])
            c5 = np.int64(cells[s, i, 5])
            c6 = np.int64(cells[s, i, 6])
            c7 = np.int64(cells[s, i, 7])
            if dense and c4 - c0 <= 1 and c5 - c1 <= 1 and c6 == c2 and c7 - c3 <= 1:
                # the usual box (at most 2 cells along x, y and altitude, 1 along z): its 8
                # possible entries written without a branch, the invalid ones overwritten
                base = s * nx + (c0 - ex0) * ny + (c1 - ex1) * nz + (c2 - ex2) * na + (c3 - ex3)
                wx = c4 - c0
                wy = c5 - c1
                wa = c7 - c3
                for dx in range(2):
                    for dy in range(2):
                        for da in range(2):
                            ok = np.int64((dx <= wx) & (dy <= wy) & (da <= wa))
                            b = base + ok * (dx * ny + dy * nz + da)
                            start[b + 1] += ok
                            ebucket[e] = b
                            etrk[e] = i
                            emask[e] = (
                                (1 if dx == 0 else 0)
                                | (2 if dy == 0 else 0)
                                | 4
                                | (8 if da == 0 else 0)
                            )
                            e += ok
                continue
            for cx in range(c0, c4 + 1):
                m_x = 1 if cx == c0 else 0
                for cy in range(c1, c5 + 1):
                    m_y = m_x | (2 if cy == c1 else 0)
                    for cz in range(c2, c6 + 1):
                        m_z = m_y | (4 if cz == c2 else 0)
                        for ca in range(c3, c7 + 1):
                            if dense:
                                b = (
                                    s * nx
                                    + (cx - ex0) * ny
                                    + (cy - ex1) * nz
                                    + (cz - ex2) * na
                                    + (ca - ex3)
                                )
                            else:
                                key = _key(np.int64(s), cx, cy, cz, ca)
                                b = _bucket(key, mask)
                                ekey[e] = key
                            start[b + 1] += 1
                            ebucket[e] = b
                            etrk[e] = i
                            emask[e] = m_z | (8 if ca == c3 else 0)
                            e += 1
    for b in range(nb):
        kmax = max(kmax, start[b + 1])
        start[b + 1] += start[b]
    # counting sort of the entries by bucket (stable)
    for q in range(e):
        b = ebucket[q]
        p = start[b]
        start[b] = p + 1
        strk[p] = etrk[q]
        smask[p] = emask[q]
        if not dense:
            skey[p] = ekey[q]
    # start[b] is now the end of bucket b (= the start of bucket b + 1)
    count = 0
    ncand = 0
    e0 = 0
    # one bucket's entries gathered contiguously: boxes, tracks, start masks, keys
    lb = np.empty((max(kmax, 1), 8), dtype=np.float32)
    lt = np.empty(max(kmax, 1), dtype=np.int64)
    lm = np.empty(max(kmax, 1), dtype=np.int64)
    lk = np.empty(max(kmax, 1), dtype=np.int64)
    # candidate pairs are evaluated in batches, in a loop of their own: the exact tests of
    # consecutive pairs (long chains of square roots and divisions) then overlap in the CPU
    cand_i = np.empty(_BATCH, dtype=np.int64)
    cand_j = np.empty(_BATCH, dtype=np.int64)
    nbuf = 0
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
                # overlap: there, in every dimension, one of the two boxes starts (one
                # branch for the whole test: most visits fail it, unpredictably)
                ov = (
                    ((ma | lm[qb]) == 15)
                    & (max(x0, lb[qb, 0]) <= min(x1, lb[qb, 4]))
                    & (max(y0, lb[qb, 1]) <= min(y1, lb[qb, 5]))
                    & (max(z0, lb[qb, 2]) <= min(z1, lb[qb, 6]))
                    & (max(a0, lb[qb, 3]) <= min(a1, lb[qb, 7]))
                )
                if not dense:
                    ov = ov & (lk[qb] == ka)
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
                cand_i[nbuf] = i
                cand_j[nbuf] = j
                nbuf += 1
                if nbuf == _BATCH:
                    count = _narrow_batch(
                        cand_i, cand_j, nbuf, px, py, pz, vx, vy, vz, alt, vs, hmargin,
                        vmargin, party, status, rule_pa, rule_pb, rule_lo, rule_hi, rule_r,
                        rule_h, rule_t, count, out_i, out_j, out_f, out_b,
                    )  # fmt: skip
                    nbuf = 0
    count = _narrow_batch(
        cand_i, cand_j, nbuf, px, py, pz, vx, vy, vz, alt, vs, hmargin, vmargin, party, status,
        rule_pa, rule_pb, rule_lo, rule_hi, rule_r, rule_h, rule_t, count, out_i, out_j, out_f,
        out_b,
    )  # fmt: skip
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
    caution_s: float,
    warning_s: float,
    level: np.ndarray,
) -> None:
    """The first ``count`` rows of :func:`grid_pairs` (track indices in the order ``order``
    maps back to the caller's rows) sorted by (a, b) with a < b the caller's indices:
    ``pairs`` (2, count), ``cols`` (8, count) the columns of ``out_f``, ``flags`` (2, count)
    those of ``out_b``. A counting sort by a, then by b within each a (pairs are unique).
    ``level`` (int8, count): the alert level code of each row (0 WARNING: loss of separation
    or t_in <= ``warning_s``; 1 CAUTION: t_in <= ``caution_s``; 2 NONE; 3 CANNOT_ASSESS)."""
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
        los = out_b[r, 0]
        cannot = out_b[r, 1]
        flags[0, dst] = los
        flags[1, dst] = cannot
        t_in = out_f[r, 0]
        if cannot:
            level[dst] = 3
        elif los or t_in <= warning_s:
            level[dst] = 0
        elif t_in <= caution_s:
            level[dst] = 1
        else:
            level[dst] = 2


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
