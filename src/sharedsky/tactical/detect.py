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

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.tactical import _kernels
from sharedsky.tactical.alerting import classify_arrays, level_names
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


def _f64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _prepare(
    states: TrackStates, params: DetectionParams, out: np.ndarray, status: np.ndarray
) -> float:
    """Fill ``out`` (10, n) and ``status`` (n,) with the detection frame of every track (see
    :func:`~sharedsky.tactical._kernels.prepare_states`); returns ``now``. Raises InvalidInput
    for invalid rows under ``on_invalid="raise"`` and for bad accuracies."""
    lv = params.levels
    q = params.quality
    now, nbad, margins_ok = _kernels.prepare_states(
        _f64(states.t),
        _f64(states.lat),
        _f64(states.lon),
        _f64(states.alt_m),
        _f64(states.gs_mps),
        _f64(states.trk_deg),
        _f64(states.vs_mps),
        _f64(states.pos_accuracy_m),
        _f64(states.vel_accuracy_mps),
        0.0 if params.now is None else float(params.now),
        params.now is not None,
        bool(lv.enabled),
        float(lv.level_step_m),
        float(lv.tolerance_m),
        float(lv.max_vs_mps),
        float(q.default_pos_accuracy_m),
        float(q.default_vel_accuracy_mps),
        float(q.horizontal_growth_mps),
        float(q.vertical_growth_mps),
        float(q.max_age_s),
        float(EARTH_RADIUS_M),
        out,
        status,
    )
    if nbad and params.on_invalid == "raise":
        _, reasons = _invalid_rows(states)
        name, _, rest = reasons[0].partition(": ")
        raise InvalidInput(rest, name)
    if not margins_ok:
        raise InvalidInput("accuracies must be finite and non-negative", "pos_accuracy_m")
    return float(now)


def _party_codes(
    states: TrackStates, params: DetectionParams, zeros: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if params.all_pairs and all(rule.parties is None for rule in params.table.rules):
        # parties play no part: every track gets code 0
        zeros[:] = 0
        return zeros, np.array(["*"], dtype=object)
    return _factorize(states.party)


def prepare_tracks(states: TrackStates, params: DetectionParams) -> PreparedTracks:
    """Validate, extrapolate to ``now``, apply level occupancy and margins (one compiled pass)."""
    n = len(states)
    out = np.empty((10, n), dtype=np.float64)
    status = np.empty(n, dtype=np.int8)
    now = _prepare(states, params, out, status)
    party_code, party_names = _party_codes(states, params, np.empty(n, dtype=np.int64))
    return PreparedTracks(*out, party_code, status, now, party_names)


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


def _rule_arrays(party_names: np.ndarray, params: DetectionParams) -> _RuleArrays:
    table = params.table
    names = (
        {str(p): k for k, p in enumerate(party_names)}
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


#: Time slots the look-ahead is cut into for the broad phase (1..16). The slots decide which
#: pairs the broad phase keeps, hence which pairs with a stale track are reported as
#: cannot-assess: changing them changes results, not only speed.
TIME_SLOTS = 3
#: Horizontal grid cell: this fraction of the median distance flown in one slot ...
CELL_FRACTION = 1.5
#: ... plus this multiple of the largest horizontal minimum.
CELL_R_FACTOR = 1.5
#: Altitude cell size as a multiple of the largest vertical minimum.
CELL_ALT_FACTOR = 4.0
# Cell sizes change only where a pair is found, never which: tuned on the dense scenario (one
# core): N = 10k ~8.4 ms against ~9.4 ms with 1.0 swept + 1.0 R and 3 H, worldwide 20k 13 ms
# against 19 ms, N = 100k ~4 % slower (465 against 447 ms).


def _grid_cells(speed: float, rules: _RuleArrays) -> tuple[float, float, float]:
    """Grid cell sizes (m): horizontal from a typical speed's swept length, altitude from H;
    and the cell of the tracks' spatial order.

    The order cell stays at one swept length plus the largest radius whatever the grid's
    tuning: the order decides which track of a pair comes first in the sum of the pair's
    radius and margins, which can move that sum's last bit.
    """
    r_max = float(rules.r.max())
    t_max = float(rules.t.max())
    swept = speed * t_max / TIME_SLOTS
    cell = max(CELL_FRACTION * swept + r_max * CELL_R_FACTOR, 1000.0)
    order_cell = max(swept + r_max, 1000.0)
    return cell, max(CELL_ALT_FACTOR * float(rules.h.max()), 10.0), order_cell


class _Workspace(threading.local):
    """Scratch arrays reused across detections in one thread (fresh memory is costly: page
    faults dominate a detection cycle otherwise). Arrays only grow."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}
        self.capacity = 0

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        size = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, 1), dtype=dtype)
            self.buffers[name] = buf
        return buf[:size].reshape(shape)


_WORKSPACE = _Workspace()


def _workspace() -> _Workspace:
    return _WORKSPACE


def _centroid_frame(sx: float, sy: float, sz: float, count: int) -> np.ndarray:
    """Rotation (rows: new x, y, z axes) that takes the tracks' mean direction to +z.

    Rotation keeps every distance; for regional traffic the tracks then lie close to one z plane
    and the grid works like a 2-D one. Only the broad phase uses the rotated coordinates.
    """
    norm = math.sqrt(sx * sx + sy * sy + sz * sz)
    if norm < 1e-9 * EARTH_RADIUS_M * max(count, 1):
        c = (0.0, 0.0, 1.0)
    else:
        c = (sx / norm, sy / norm, sz / norm)
    h = (1.0, 0.0, 0.0) if abs(c[0]) < 0.9 else (0.0, 1.0, 0.0)
    e1 = (h[1] * c[2] - h[2] * c[1], h[2] * c[0] - h[0] * c[2], h[0] * c[1] - h[1] * c[0])
    n1 = math.sqrt(e1[0] ** 2 + e1[1] ** 2 + e1[2] ** 2)
    e1 = (e1[0] / n1, e1[1] / n1, e1[2] / n1)
    e2 = (c[1] * e1[2] - c[2] * e1[1], c[2] * e1[0] - c[0] * e1[2], c[0] * e1[1] - c[1] * e1[0])
    return np.array([e1, e2, c], dtype=np.float64)


def detect_conflicts(states: TrackStates, params: DetectionParams | None = None) -> Conflicts:
    """Predict every conflict among ``states`` within the look-ahead (see the module docstring
    for geometry and semantics). The result does not depend on the order of the rows except
    through the indices it reports."""
    params = params or DetectionParams()
    if not isinstance(states, TrackStates):
        raise InvalidInput(f"expected TrackStates, got {type(states)}", "states")
    n = len(states)
    ws = _workspace()
    prep = ws.get("prep", (10, n), np.float64)
    status0 = ws.get("status0", (n,), np.int8)
    now = _prepare(states, params, prep, status0)
    party0, party_names = _party_codes(states, params, ws.get("party0", (n,), np.int64))
    rules = _rule_arrays(party_names, params)
    sx, sy, sz, n_ok, speed = _kernels.frame_stats(prep, status0)
    cell_m, cell_alt_m, order_cell_m = _grid_cells(speed, rules)
    # tracks in a spatial order (the grid is then filled and read with locality), with their
    # rotated coordinates for the broad phase; the narrow phase works on the unrotated ones:
    # its numbers then do not depend on the rows' order (the centroid, a sum, does at the
    # last bit)
    order = ws.get("order", (n,), np.int64)
    frame = ws.get("frame", (10, n), np.float64)
    status = ws.get("status", (n,), np.int8)
    party_code = ws.get("party", (n,), np.int64)
    rot = _centroid_frame(sx, sy, sz, n_ok)
    v_max, hm_max = _kernels.frame_order(
        prep,
        status0,
        party0,
        rot,
        order_cell_m,
        order,
        frame,
        status,
        party_code,
    )
    # frame's rows, in the kernels' order: px, py, pz, vx, vy, vz, alt, vs, hmargin, vmargin
    r_max, h_max, t_max = float(rules.r.max()), float(rules.h.max()), float(rules.t.max())
    # largest angular separation of a pair that can conflict (a conservative Earth radius)
    theta = min((r_max + 2.0 * hm_max + 2.0 * v_max * t_max) / 6_300_000.0, 2.0)
    box = ws.get("box", (TIME_SLOTS, n, 8), np.float32)
    cells = ws.get("cells", (TIME_SLOTS, n, 8), np.int16)
    extent = np.zeros(8, dtype=np.int64)
    n_ent = _kernels.swept_boxes(
        *frame,
        status,
        rot,
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
    ekey = ws.get("ekey", (1 if dense else max(n_ent, 1),), np.int64)
    ebucket = ws.get("ebucket", (n_ent + 8,), np.int32)
    etrk = ws.get("etrk", (n_ent + 8,), np.int32)
    emask = ws.get("emask", (n_ent + 8,), np.int8)
    # output capacity: remembered from earlier cycles, so that a kernel rerun is rare
    cap = max(1024, 2 * n, ws.capacity)
    while True:
        out_i = ws.get("out_i", (cap,), np.int64)
        out_j = ws.get("out_j", (cap,), np.int64)
        out_f = ws.get("out_f", (cap, 8), np.float64)
        out_b = ws.get("out_b", (cap, 2), np.bool_)
        count, ncand = _kernels.grid_pairs(
            *frame,
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
            ebucket,
            etrk,
            emask,
            ekey,
        )
        if count <= cap:
            break
        cap = int(count * 1.25) + 1
    ws.capacity = max(ws.capacity, int(count * 1.25))
    pairs = np.empty((2, count), dtype=np.int64)
    cols = np.empty((8, count), dtype=np.float64)
    flags = np.empty((2, count), dtype=np.bool_)
    codes = ws.get("level", (count,), np.int8)
    th = params.thresholds
    _kernels.assemble_rows(
        order,
        count,
        out_i,
        out_j,
        out_f,
        out_b,
        pairs,
        cols,
        flags,
        float(th.caution_s),
        float(th.warning_s),
        codes,
    )

    def col(q: int) -> np.ndarray:
        return cols[q]

    los = flags[0]
    cannot = flags[1]
    t_in = col(0)
    level = level_names(codes)
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
        invalid=np.flatnonzero(status0 == 2),
        stale=np.flatnonzero(status0 == 1),
        now=now,
        candidates=int(ncand),
    )
