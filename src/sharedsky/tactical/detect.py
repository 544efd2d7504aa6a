"""State-based conflict detection (linear extrapolation), symmetric, with a grid broad phase.

Geometry (the same in the naive reference ``tests/reference/naive_cpa.py``):

* Every track is first extrapolated along its great circle from its own time ``t`` to the
  detection time ``now`` (altitude with its vertical rate).
* Positions are points on a sphere of radius ``EARTH_RADIUS_M`` (6 371 km) in Earth-centred
  Cartesian coordinates (ECEF on the sphere); a track's velocity is the 3-vector
  ``gs·(sin trk·east + cos trk·north)`` of its own local east/north unit vectors, with
  ``east = (−sin λ, cos λ, 0)`` and ``north = (−sin φ cos λ, −sin φ sin λ, cos φ)`` (defined at
  the poles too, from the given longitude).
* For a pair (a, b) the horizontal plane is the tangent plane at the pair's MIDPOINT direction
  ``m = (p_a + p_b)/|p_a + p_b|``. The relative position ``d = p_b − p_a`` and relative velocity
  ``w = v_b − v_a`` are projected onto that plane. ``m`` is symmetric in (a, b) and ``d``, ``w``
  change sign with the order, so every reported number is the same from either side; there is no
  longitude wrap (no antimeridian case) and no singularity at the poles. Horizontal distance is
  the chord, which differs from the great-circle distance by under 1 m below 100 km. Pairs of
  antipodal points (``|p_a + p_b|`` below 1 m) are never in conflict.
* Vertical: ``Δz = alt_b − alt_a``, ``Δvz = vs_b − vs_a`` after the level-occupancy rule
  (:class:`~sharedsky.tactical.params.LevelOccupancy`).

Semantics (cylinder of radius R and half-height H, all inequalities strict):

* Horizontal intrusion: ``|d + w·τ| < R``, an open interval (τ_h_in, τ_h_out); when
  ``|w|² ≤ 1e-12`` m²/s² (identical velocities) it is all time if ``|d| < R``, else empty.
* Vertical intrusion: ``|Δz + Δvz·τ| < H − 1e-6 m``; when ``Δvz == 0`` all time if
  ``|Δz| < H − 1e-6 m``, else empty. The micrometre keeps level pairs exactly one minimum apart
  out of conflict, from both sides, although feet are not exact in binary floating point.
* Conflict: the two intervals overlap within the look-ahead: ``lo = max(ins) < hi = min(outs)``,
  ``lo < T`` and ``hi > 0``; loss of separation (LoS): ``|d| < R`` and ``|Δz| < H − 1e-6 m``
  now (a LoS is always a conflict).
* Reported: ``t_in = clip(lo, 0, T)``, ``t_out = clip(hi, 0, T)`` (the conflict within the
  window, finite), ``t_cpa`` = horizontal closest approach time clipped to ``[0, T]`` (0 for
  identical velocities), ``d_cpa_m`` the horizontal distance then, ``dalt_cpa_m`` the absolute
  vertical separation then.
* Pair minima: the first matching :class:`~sharedsky.tactical.params.MinimaRule` by party pair
  and by the HIGHER of the two current altitudes; ``R`` and ``H`` are widened by the tracks'
  data-quality margins.

Broad phase: each eligible track's swept box over [0, T] (start and end points in Cartesian
coordinates, inflated by the largest radius, its margin and the sphere's sagitta) and its swept
altitude band are hashed into a uniform grid of (x, y, z, altitude) cells; pairs are tested once,
in the cell holding the lower corner of their boxes' intersection, and only when both boxes and
both bands overlap. Cost grows as O(N + candidate pairs); memory likewise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.tactical import _kernels
from sharedsky.tactical.alerting import classify_arrays
from sharedsky.tactical.params import (
    AlertThresholds,
    DataQuality,
    LevelOccupancy,
    MinimaTable,
    SeparationMinima,
)
from sharedsky.tactical.states import REQUIRED_FIELDS, TrackStates
from sharedsky.units import EARTH_RADIUS_M

__all__ = ["Conflicts", "DetectionParams", "classify", "detect_conflicts", "prepare_tracks"]


@dataclass(frozen=True)
class DetectionParams:
    """Everything one detection depends on.

    ``minima``: a :class:`MinimaTable` or one :class:`SeparationMinima` for every pair.
    ``lookahead_s``: default look-ahead (a minima rule may set its own). ``all_pairs``: include
    pairs of the same party (default: only pairs of different parties). ``now``: detection time,
    epoch s (None: the latest ``t`` of the states). ``on_invalid``: rows with NaN or out-of-range
    required fields are either refused (``"raise"``, InvalidInput naming field and row) or
    excluded and listed in :attr:`Conflicts.invalid` (``"flag"``).
    """

    minima: MinimaTable | SeparationMinima = field(default_factory=MinimaTable)
    lookahead_s: float = 300.0
    all_pairs: bool = False
    now: float | None = None
    levels: LevelOccupancy = field(default_factory=LevelOccupancy)
    quality: DataQuality = field(default_factory=DataQuality)
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    on_invalid: Literal["raise", "flag"] = "flag"

    def __post_init__(self) -> None:
        lk = float(self.lookahead_s)
        if not np.isfinite(lk) or lk < 0:
            raise InvalidInput("must be a finite non-negative number of seconds", "lookahead_s")
        if self.on_invalid not in ("raise", "flag"):
            raise InvalidInput("must be 'raise' or 'flag'", "on_invalid")

    @property
    def table(self) -> MinimaTable:
        if isinstance(self.minima, SeparationMinima):
            return MinimaTable.uniform(self.minima)
        return self.minima


@dataclass(frozen=True, eq=False)
class Conflicts:
    """Result of one detection: one row per unordered pair, ``pairs[0] < pairs[1]`` (indices into
    the states given), rows sorted by (pairs[0], pairs[1]).

    Rows are the pairs in conflict within the look-ahead plus the pairs that cannot be assessed
    (``cannot_assess``: a track is older than the maximum age; their numbers are NaN).
    ``invalid`` lists the rows excluded by ``on_invalid="flag"``; ``stale`` the rows too old to
    assess. ``now`` is the detection time.
    """

    pairs: np.ndarray
    t_in: np.ndarray
    t_out: np.ndarray
    t_cpa: np.ndarray
    d_cpa_m: np.ndarray
    dalt_cpa_m: np.ndarray
    los: np.ndarray
    cannot_assess: np.ndarray
    level: np.ndarray
    horizontal_m: np.ndarray
    vertical_m: np.ndarray
    lookahead_s: np.ndarray
    invalid: np.ndarray
    stale: np.ndarray
    now: float
    candidates: int = 0

    def __len__(self) -> int:
        return int(self.pairs.shape[1])

    def to_frame(self, states: TrackStates) -> Any:
        """A pandas DataFrame: ``id_a, id_b, party_a, party_b, level, t_in, t_out, t_cpa,
        d_cpa_m, dalt_cpa_m, los, cannot_assess``."""
        import pandas as pd

        a, b = self.pairs
        return pd.DataFrame(
            {
                "id_a": states.track_id[a],
                "id_b": states.track_id[b],
                "party_a": states.party[a],
                "party_b": states.party[b],
                "level": self.level,
                "t_in": self.t_in,
                "t_out": self.t_out,
                "t_cpa": self.t_cpa,
                "d_cpa_m": self.d_cpa_m,
                "dalt_cpa_m": self.dalt_cpa_m,
                "los": self.los,
                "cannot_assess": self.cannot_assess,
            }
        )


def classify(conflicts: Conflicts, thresholds: AlertThresholds | None = None) -> np.ndarray:
    """Alert level names per row of ``conflicts`` (see :class:`AlertLevel`)."""
    return classify_arrays(
        conflicts.t_in, conflicts.los, conflicts.cannot_assess, thresholds or AlertThresholds()
    )


@dataclass(frozen=True, eq=False)
class PreparedTracks:
    """Per-track arrays in the detection frame (Cartesian positions on the sphere, velocities,
    altitudes after level occupancy, margins), shared by detection and the reference tests."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray
    alt: np.ndarray
    vs: np.ndarray
    hmargin: np.ndarray
    vmargin: np.ndarray
    party_code: np.ndarray
    status: np.ndarray  # 0 ok, 1 stale, 2 invalid
    now: float
    party_names: np.ndarray


def _invalid_rows(states: TrackStates) -> tuple[np.ndarray, list[str]]:
    bad = np.zeros(len(states), dtype=bool)
    reasons: list[str] = []
    for name in REQUIRED_FIELDS:
        col = getattr(states, name)
        nan = ~np.isfinite(col)
        if nan.any():
            reasons.append(f"{name}: not finite in row {int(np.flatnonzero(nan)[0])}")
        bad |= nan
    with np.errstate(invalid="ignore"):
        checks = (
            ("lat", np.abs(states.lat) > 90.0),
            ("gs_mps", states.gs_mps < 0.0),
        )
    for name, m in checks:
        if m.any():
            reasons.append(f"{name}: out of range in row {int(np.flatnonzero(m)[0])}")
        bad |= m
    return bad, reasons


def prepare_tracks(states: TrackStates, params: DetectionParams) -> PreparedTracks:
    """Validate, extrapolate to ``now``, apply level occupancy and margins (vectorised)."""
    n = len(states)
    bad, reasons = _invalid_rows(states)
    if bad.any() and params.on_invalid == "raise":
        first = reasons[0]
        name, _, rest = first.partition(": ")
        raise InvalidInput(rest, name)
    good_t = states.t[~bad]
    if params.now is not None:
        now = float(params.now)
    elif good_t.size:
        now = float(good_t.max())
    else:
        now = 0.0
    any_bad = bool(bad.any())

    def good(col: np.ndarray) -> np.ndarray:
        # bad rows zeroed (the same values as np.where, without a copy when all rows are good)
        return np.where(bad, 0.0, col) if any_bad else col

    with np.errstate(invalid="ignore"):
        age = good(now - states.t)
        gs = good(states.gs_mps)
        vs0 = good(states.vs_mps)
        lat0 = np.radians(good(states.lat))
        lon0 = np.radians(good(states.lon))
        trk = np.radians(good(states.trk_deg))
        alt0 = good(states.alt_m)
    # great-circle extrapolation by gs*age along the track
    delta = gs * age / EARTH_RADIUS_M
    moved = delta != 0.0
    lat, lon, trk_now = lat0.copy(), lon0.copy(), trk.copy()
    if moved.any():
        sl, cl = np.sin(lat0[moved]), np.cos(lat0[moved])
        sd, cd = np.sin(delta[moved]), np.cos(delta[moved])
        st, ct = np.sin(trk[moved]), np.cos(trk[moved])
        lat2 = np.arcsin(np.clip(sl * cd + cl * sd * ct, -1.0, 1.0))
        lon2 = lon0[moved] + np.arctan2(st * sd * cl, cd - sl * np.sin(lat2))
        # final bearing of the great circle at the new point
        back = np.arctan2(
            np.sin(lon0[moved] - lon2) * cl,
            np.cos(lat2) * sl - np.sin(lat2) * cl * np.cos(lon0[moved] - lon2),
        )
        lat[moved], lon[moved] = lat2, lon2
        trk_now[moved] = back + np.pi
    alt = alt0 + vs0 * age
    vs = vs0.copy()
    lv = params.levels
    if lv.enabled:
        level = np.round(alt / lv.level_step_m) * lv.level_step_m
        snap = (np.abs(vs) <= lv.max_vs_mps) & (np.abs(alt - level) <= lv.tolerance_m)
        alt = np.where(snap, level, alt)
        vs = np.where(snap, 0.0, vs)
    sphi, cphi = np.sin(lat), np.cos(lat)
    slam, clam = np.sin(lon), np.cos(lon)
    px = EARTH_RADIUS_M * cphi * clam
    py = EARTH_RADIUS_M * cphi * slam
    pz = EARTH_RADIUS_M * sphi
    ve = gs * np.sin(trk_now)
    vn = gs * np.cos(trk_now)
    vx = -slam * ve - sphi * clam * vn
    vy = clam * ve - sphi * slam * vn
    vz = cphi * vn
    q = params.quality
    aage = np.abs(age)
    pacc = np.where(
        np.isnan(states.pos_accuracy_m), q.default_pos_accuracy_m, states.pos_accuracy_m
    )
    vacc = np.where(
        np.isnan(states.vel_accuracy_mps), q.default_vel_accuracy_mps, states.vel_accuracy_mps
    )
    hmargin = np.where(bad, 0.0, pacc + (vacc + q.horizontal_growth_mps) * aage)
    vmargin = np.where(bad, 0.0, q.vertical_growth_mps * aage)
    if not (np.isfinite(hmargin).all() and (hmargin >= 0).all()):
        raise InvalidInput("accuracies must be finite and non-negative", "pos_accuracy_m")
    if params.all_pairs and all(rule.parties is None for rule in params.table.rules):
        # parties play no part: every track gets code 0
        party_code = np.zeros(n, dtype=np.int64)
        party_names = np.array(["*"], dtype=object)
    else:
        party_code, party_names = _factorize(states.party)
    status = np.zeros(n, dtype=np.int8)
    status[aage > q.max_age_s] = 1
    status[bad] = 2

    def c(a: np.ndarray, dt: Any = np.float64) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=dt)

    return PreparedTracks(
        c(px),
        c(py),
        c(pz),
        c(vx),
        c(vy),
        c(vz),
        c(alt),
        c(vs),
        c(hmargin),
        c(vmargin),
        c(party_code, np.int64),
        status,
        now,
        party_names,
    )


@dataclass(frozen=True)
class _RuleArrays:
    pa: np.ndarray
    pb: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    r: np.ndarray
    h: np.ndarray
    t: np.ndarray


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of string values (numbered by first appearance: only equality matters)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=False)
    return np.ascontiguousarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _rule_arrays(prep: PreparedTracks, params: DetectionParams) -> _RuleArrays:
    table = params.table
    names = (
        {str(p): k for k, p in enumerate(prep.party_names)}
        if any(rule.parties is not None for rule in table.rules)
        else {}
    )
    rows: list[tuple[int, int, float, float, SeparationMinima]] = []
    for rule in table.rules:
        if rule.parties is None:
            pa = pb = -1
        else:
            pa = names.get(rule.parties[0], -2)
            pb = names.get(rule.parties[1], -2)
            if pa == -2 or pb == -2:
                continue  # a party absent from these states: the rule cannot match
        lo = -np.inf if rule.above_m is None else float(rule.above_m)
        hi = np.inf if rule.up_to_m is None else float(rule.up_to_m)
        rows.append((pa, pb, lo, hi, rule.minima))
    rows.append((-1, -1, -np.inf, np.inf, table.default))

    def la(m: SeparationMinima) -> float:
        return float(params.lookahead_s if m.lookahead_s is None else m.lookahead_s)

    return _RuleArrays(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=np.float64),
        np.array([r[4].horizontal_m for r in rows], dtype=np.float64),
        np.array([r[4].vertical_m for r in rows], dtype=np.float64),
        np.array([la(r[4]) for r in rows], dtype=np.float64),
    )


#: Time slots the look-ahead is cut into for the broad phase (1..16).
TIME_SLOTS = 3
#: Horizontal grid cell: this fraction of the median distance flown in one slot ...
CELL_FRACTION = 1.0
#: ... plus this multiple of the largest horizontal minimum (both tuned on the dense scenario).
CELL_R_FACTOR = 1.0
#: Altitude cell size as a multiple of the largest vertical minimum.
CELL_ALT_FACTOR = 3.0


def _grid_cells(prep: PreparedTracks, rules: _RuleArrays) -> tuple[float, float]:
    """Grid cell sizes (m): horizontal from the median swept length, altitude from H."""
    r_max = float(rules.r.max())
    t_max = float(rules.t.max())
    ok = prep.status != 2
    if ok.any():
        speed = np.sqrt(prep.vx[ok] ** 2 + prep.vy[ok] ** 2 + prep.vz[ok] ** 2)
        # a typical speed: the median of at most ~1000 tracks (exactness does not matter)
        swept = float(np.median(speed[:: max(1, speed.size // 1000)])) * t_max / TIME_SLOTS
    else:
        swept = 0.0
    cell = max(CELL_FRACTION * swept + r_max * CELL_R_FACTOR, 1000.0)
    return cell, max(CELL_ALT_FACTOR * float(rules.h.max()), 10.0)


class _Workspace(threading.local):
    """Scratch arrays reused across detections in one thread (fresh memory is costly: page
    faults dominate a detection cycle otherwise). Arrays only grow."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}
        self.capacity = 0

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        size = int(np.prod(shape))
        buf = self.buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, 1), dtype=dtype)
            self.buffers[name] = buf
        return buf[:size].reshape(shape)


_WORKSPACE = _Workspace()


def _workspace() -> _Workspace:
    return _WORKSPACE


def _rotate_to_centroid(prep: PreparedTracks) -> tuple[np.ndarray, ...]:
    """Rotate Cartesian positions and velocities so that the tracks' mean direction is +z.

    Rotation keeps every distance, so the narrow phase is unchanged; for regional traffic the
    tracks then lie close to one z plane and the grid works like a 2-D one.
    """
    ok = prep.status != 2
    c = np.array([prep.px[ok].sum(), prep.py[ok].sum(), prep.pz[ok].sum()])
    norm = float(np.linalg.norm(c))
    if norm < 1e-9 * EARTH_RADIUS_M * max(int(ok.sum()), 1):
        c = np.array([0.0, 0.0, 1.0])
    else:
        c = c / norm
    helper = np.array([1.0, 0.0, 0.0]) if abs(c[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, c)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    out = []
    for x, y, z in ((prep.px, prep.py, prep.pz), (prep.vx, prep.vy, prep.vz)):
        for e in (e1, e2, c):
            out.append(np.ascontiguousarray(e[0] * x + e[1] * y + e[2] * z))
    return tuple(out)


def _spatial_order(rx: np.ndarray, ry: np.ndarray, cell_m: float, ok: np.ndarray) -> np.ndarray:
    """Track order by (x cell, y cell): small integer keys sort in linear time (radix sort)."""
    if not ok.any():
        return np.arange(rx.shape[0])
    with np.errstate(invalid="ignore"):
        cx = np.floor(np.where(ok, rx, rx[ok][0]) / cell_m)
        cy = np.floor(np.where(ok, ry, ry[ok][0]) / cell_m)
    cx -= cx.min()
    cy -= cy.min()
    span = float(cy.max()) + 1.0
    key = cx * span + cy
    if float(key.max()) < 65536.0:
        return np.argsort(key.astype(np.uint16), kind="stable")
    return np.argsort(key, kind="stable")


def detect_conflicts(states: TrackStates, params: DetectionParams | None = None) -> Conflicts:
    """Predict every conflict among ``states`` within the look-ahead (see the module docstring
    for geometry and semantics). The result does not depend on the order of the rows except
    through the indices it reports."""
    params = params or DetectionParams()
    if not isinstance(states, TrackStates):
        raise InvalidInput(f"expected TrackStates, got {type(states)}", "states")
    prep = prepare_tracks(states, params)
    rules = _rule_arrays(prep, params)
    n = len(states)
    cell_m, cell_alt_m = _grid_cells(prep, rules)
    rx, ry, rz, rvx, rvy, rvz = _rotate_to_centroid(prep)
    ok = prep.status != 2
    speed = np.sqrt(rvx[ok] ** 2 + rvy[ok] ** 2 + rvz[ok] ** 2)
    v_max = float(speed.max()) if speed.size else 0.0
    hm_max = float(prep.hmargin[ok].max()) if speed.size else 0.0
    r_max, h_max, t_max = float(rules.r.max()), float(rules.h.max()), float(rules.t.max())
    # largest angular separation of a pair that can conflict (a conservative Earth radius)
    theta = min((r_max + 2.0 * hm_max + 2.0 * v_max * t_max) / 6_300_000.0, 2.0)
    # sort tracks spatially so that the grid is filled and read with locality
    order = _spatial_order(rx, ry, cell_m, ok)
    rx, ry, rz, rvx, rvy, rvz = (
        np.ascontiguousarray(a[order]) for a in (rx, ry, rz, rvx, rvy, rvz)
    )
    # the narrow phase works on the unrotated coordinates: its numbers then do not depend on
    # the rows' order (the centroid, a sum, does at the last bit)
    px, py, pz, vx, vy, vz = (
        np.ascontiguousarray(a[order])
        for a in (prep.px, prep.py, prep.pz, prep.vx, prep.vy, prep.vz)
    )
    alt, vs = np.ascontiguousarray(prep.alt[order]), np.ascontiguousarray(prep.vs[order])
    hmargin = np.ascontiguousarray(prep.hmargin[order])
    vmargin = np.ascontiguousarray(prep.vmargin[order])
    party_code = np.ascontiguousarray(prep.party_code[order])
    status = np.ascontiguousarray(prep.status[order])
    ws = _workspace()
    box = ws.get("box", (TIME_SLOTS, n, 8), np.float32)
    cells = ws.get("cells", (TIME_SLOTS, n, 8), np.int32)
    extent = np.zeros(8, dtype=np.int64)
    n_ent = _kernels.swept_boxes(
        rx,
        ry,
        rz,
        rvx,
        rvy,
        rvz,
        alt,
        vs,
        hmargin,
        vmargin,
        status,
        r_max,
        h_max,
        t_max,
        theta,
        cell_m,
        cell_alt_m,
        box,
        cells,
        extent,
    )
    dense_cells = TIME_SLOTS * int(np.prod(np.maximum(extent[4:] - extent[:4] + 1, 1)))
    dense = dense_cells <= max(4 * n_ent, 1 << 16)
    if dense:
        nb = dense_cells
    else:
        nb = 1
        while nb < n_ent:
            nb *= 2
    start = ws.get("start", (nb + 1,), np.int32)
    skey = ws.get("skey", (1 if dense else max(n_ent, 1),), np.int64)
    strk = ws.get("strk", (max(n_ent, 1),), np.int32)
    smask = ws.get("smask", (max(n_ent, 1),), np.int8)
    # output capacity: remembered from earlier cycles, so that a kernel rerun is rare
    cap = max(1024, 2 * n, ws.capacity)
    while True:
        out_i = ws.get("out_i", (cap,), np.int64)
        out_j = ws.get("out_j", (cap,), np.int64)
        out_f = ws.get("out_f", (cap, 8), np.float64)
        out_b = ws.get("out_b", (cap, 2), np.bool_)
        count, ncand = _kernels.grid_pairs(
            px,
            py,
            pz,
            vx,
            vy,
            vz,
            alt,
            vs,
            hmargin,
            vmargin,
            party_code,
            status,
            bool(params.all_pairs),
            rules.pa,
            rules.pb,
            rules.lo,
            rules.hi,
            rules.r,
            rules.h,
            rules.t,
            box,
            cells,
            extent,
            cell_m,
            cell_alt_m,
            dense,
            start,
            skey,
            strk,
            out_i,
            out_j,
            out_f,
            out_b,
            smask,
        )
        if count <= cap:
            break
        cap = int(count * 1.25) + 1
    ws.capacity = max(ws.capacity, int(count * 1.25))
    pairs = np.empty((2, count), dtype=np.int64)
    cols = np.empty((8, count), dtype=np.float64)
    flags = np.empty((2, count), dtype=np.bool_)
    _kernels.assemble_rows(order, count, out_i, out_j, out_f, out_b, pairs, cols, flags)

    def col(q: int) -> np.ndarray:
        return cols[q]

    los = flags[0]
    cannot = flags[1]
    t_in = col(0)
    level = classify_arrays(t_in, los, cannot, params.thresholds)
    return Conflicts(
        pairs=pairs,
        t_in=t_in,
        t_out=col(1),
        t_cpa=col(2),
        d_cpa_m=col(3),
        dalt_cpa_m=col(4),
        los=los,
        cannot_assess=cannot,
        level=level,
        horizontal_m=col(5),
        vertical_m=col(6),
        lookahead_s=col(7),
        invalid=np.flatnonzero(prep.status == 2),
        stale=np.flatnonzero(prep.status == 1),
        now=prep.now,
        candidates=int(ncand),
    )
