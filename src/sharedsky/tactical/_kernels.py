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

__all__ = ["detect_pairs", "pair_geometry", "window_polygon_times"]

_INF = np.inf
# |w|² at or below this (m²/s²) counts as identical velocities (|w| ≤ 1 µm/s).
VREL2_EPS = 1e-12


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


@njit(cache=True, inline="always")
def _cell(v: float, origin: float, size: float) -> np.int64:
    return np.int64(math.floor((v - origin) / size))


@njit(cache=True, inline="always")
def _key(cx: np.int64, cy: np.int64, cz: np.int64, ca: np.int64) -> np.int64:
    return ((cx & 0xFFFF) << 48) | ((cy & 0xFFFF) << 32) | ((cz & 0xFFFF) << 16) | (ca & 0xFFFF)


@njit(cache=True, inline="always")
def _bucket(key: np.int64, mask: np.int64) -> np.int64:
    h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@njit(cache=True)
def detect_pairs(
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
    cell_m: float,
    cell_alt_m: float,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_f: np.ndarray,
    out_b: np.ndarray,
) -> tuple[int, int]:
    """Broad phase (swept boxes in a hashed 4-D grid) plus exact narrow phase for all pairs.

    Parameters: per-track Cartesian position ``p*`` (m) and velocity ``v*`` (m/s), altitude
    ``alt`` (m) and vertical rate ``vs`` (m/s) after level occupancy, horizontal and vertical
    margins (m), integer party codes, ``status`` (0 assess, 1 stale: report cannot-assess,
    2 invalid: skip); ``all_pairs`` (else only different parties); the minima rules (party codes
    ``rule_pa``/``rule_pb``, -1 = any; altitude band ``(rule_lo, rule_hi]`` of the higher track;
    radius, half-height, look-ahead), first match wins, the last rule matches everything;
    grid cell sizes. Outputs (capacity ``cap = len(out_i)``): pair indices ``out_i < out_j``,
    ``out_f[0:8]`` = t_in, t_out, t_cpa, d_cpa, dalt_cpa, R, H, T and ``out_b[0:2]`` = los,
    cannot_assess. Returns (number of result rows, which may exceed cap: call again with a
    larger cap; number of candidate pairs tested exactly).
    """
    n = px.shape[0]
    cap = out_i.shape[0]
    nr = rule_r.shape[0]
    r_max = 0.0
    h_max = 0.0
    t_max = 0.0
    for k in range(nr):
        r_max = max(r_max, rule_r[k])
        h_max = max(h_max, rule_h[k])
        t_max = max(t_max, rule_t[k])
    v_max = 0.0
    hm_max = 0.0
    for i in range(n):
        if status[i] == 2:
            continue
        v_max = max(v_max, math.sqrt(vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]))
        hm_max = max(hm_max, hmargin[i])
    # largest angular separation of a pair that can conflict; the tilt between tangent planes
    # adds at most |v|·T·theta/2 to a track's excursion off the pair's midpoint plane
    theta = min((r_max + 2.0 * hm_max + 2.0 * v_max * t_max) / 6_371_000.0, 2.0)
    # swept boxes
    lox = np.empty(n)
    loy = np.empty(n)
    loz = np.empty(n)
    loa = np.empty(n)
    hix = np.empty(n)
    hiy = np.empty(n)
    hiz = np.empty(n)
    hia = np.empty(n)
    for i in range(n):
        speed = math.sqrt(vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i])
        infl = 0.5 * r_max + hmargin[i] + 0.5 * speed * t_max * theta + 1.0
        ex = px[i] + vx[i] * t_max
        ey = py[i] + vy[i] * t_max
        ez = pz[i] + vz[i] * t_max
        lox[i] = min(px[i], ex) - infl
        hix[i] = max(px[i], ex) + infl
        loy[i] = min(py[i], ey) - infl
        hiy[i] = max(py[i], ey) + infl
        loz[i] = min(pz[i], ez) - infl
        hiz[i] = max(pz[i], ez) + infl
        ea = alt[i] + vs[i] * t_max
        ainfl = 0.5 * h_max + vmargin[i] + 1e-6
        loa[i] = min(alt[i], ea) - ainfl
        hia[i] = max(alt[i], ea) + ainfl
    ox = -6_400_000.0 - 8.0 * cell_m
    oa = -100_000.0
    # pass 1: count grid entries
    n_ent = 0
    for i in range(n):
        if status[i] == 2:
            continue
        nx = _cell(hix[i], ox, cell_m) - _cell(lox[i], ox, cell_m) + 1
        ny = _cell(hiy[i], ox, cell_m) - _cell(loy[i], ox, cell_m) + 1
        nz = _cell(hiz[i], ox, cell_m) - _cell(loz[i], ox, cell_m) + 1
        na = _cell(hia[i], oa, cell_alt_m) - _cell(loa[i], oa, cell_alt_m) + 1
        n_ent += nx * ny * nz * na
    nb = 1
    while nb < 2 * n_ent:
        nb *= 2
    mask = np.int64(nb - 1)
    keys = np.empty(n_ent, dtype=np.int64)
    trk = np.empty(n_ent, dtype=np.int32)
    k = 0
    for i in range(n):
        if status[i] == 2:
            continue
        for cx in range(_cell(lox[i], ox, cell_m), _cell(hix[i], ox, cell_m) + 1):
            for cy in range(_cell(loy[i], ox, cell_m), _cell(hiy[i], ox, cell_m) + 1):
                for cz in range(_cell(loz[i], ox, cell_m), _cell(hiz[i], ox, cell_m) + 1):
                    for ca in range(
                        _cell(loa[i], oa, cell_alt_m), _cell(hia[i], oa, cell_alt_m) + 1
                    ):
                        keys[k] = _key(cx, cy, cz, ca)
                        trk[k] = i
                        k += 1
    # counting sort by bucket
    start = np.zeros(nb + 1, dtype=np.int32)
    bk = np.empty(n_ent, dtype=np.int64)
    for e in range(n_ent):
        b = _bucket(keys[e], mask)
        bk[e] = b
        start[b + 1] += 1
    for b in range(nb):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    skey = np.empty(n_ent, dtype=np.int64)
    strk = np.empty(n_ent, dtype=np.int32)
    for e in range(n_ent):
        b = bk[e]
        p = fill[b]
        skey[p] = keys[e]
        strk[p] = trk[e]
        fill[b] = p + 1
    count = 0
    ncand = 0
    for b in range(nb):
        s = start[b]
        e = start[b + 1]
        for ea_ in range(s, e):
            key = skey[ea_]
            i0 = strk[ea_]
            for eb_ in range(ea_ + 1, e):
                if skey[eb_] != key:
                    continue
                j0 = strk[eb_]
                i = min(i0, j0)
                j = max(i0, j0)
                if not all_pairs and party[i] == party[j]:
                    continue
                # box overlap
                ix = max(lox[i], lox[j])
                if ix > min(hix[i], hix[j]):
                    continue
                iy = max(loy[i], loy[j])
                if iy > min(hiy[i], hiy[j]):
                    continue
                iz = max(loz[i], loz[j])
                if iz > min(hiz[i], hiz[j]):
                    continue
                ia = max(loa[i], loa[j])
                if ia > min(hia[i], hia[j]):
                    continue
                # test each pair once: in the cell of the intersection's lower corner
                if (
                    _key(
                        _cell(ix, ox, cell_m),
                        _cell(iy, ox, cell_m),
                        _cell(iz, ox, cell_m),
                        _cell(ia, oa, cell_alt_m),
                    )
                    != key
                ):
                    continue
                ncand += 1
                if status[i] == 1 or status[j] == 1:
                    if count < cap:
                        out_i[count] = i
                        out_j[count] = j
                        for q in range(8):
                            out_f[q, count] = np.nan
                        out_b[0, count] = False
                        out_b[1, count] = True
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
                ok, los, t_in, t_out, tc, dcpa, dac = pair_geometry(
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
                if not ok:
                    continue
                if count < cap:
                    out_i[count] = i
                    out_j[count] = j
                    out_f[0, count] = t_in
                    out_f[1, count] = t_out
                    out_f[2, count] = tc
                    out_f[3, count] = dcpa
                    out_f[4, count] = dac
                    out_f[5, count] = rad
                    out_f[6, count] = hh
                    out_f[7, count] = tt
                    out_b[0, count] = los
                    out_b[1, count] = False
                count += 1
    return count, ncand


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
