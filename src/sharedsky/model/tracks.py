"""Track batches: what a feed or a push delivers for one party, columnar and SI.

A :class:`TrackBatch` holds equal-length numpy columns with the field names of
:class:`sharedsky.tactical.TrackStates` but **no party**: the party is whoever sends the batch
(the token's subject for a push, the party a feed is attached to). Units inside: ``t`` epoch
seconds UTC, ``lat``/``lon`` WGS-84 degrees, ``alt_m`` metres, ``gs_mps`` m/s, ``trk_deg``
degrees true, ``vs_mps`` m/s positive up, optional ``pos_accuracy_m`` / ``vel_accuracy_mps``
(95 %); NaN means unknown.

Rows that could not be decoded never enter the columns: each becomes a :class:`Reject` with the
record's index (or line number), its raw text and a reason naming the field. Nothing is dropped
silently.

Two wire namings are understood by :meth:`TrackBatch.from_records` and :meth:`from_columns`:

* ``"si"``: ``track_id, t, lat, lon, alt_m, gs_mps, trk_deg, vs_mps[, pos_accuracy_m,
  vel_accuracy_mps]``;
* ``"traffic"`` (OpenSky / ``traffic`` tables): ``icao24`` (or ``track_id``), ``timestamp``,
  ``latitude``, ``longitude``, ``altitude`` [ft], ``groundspeed`` [kt], ``track`` [deg],
  ``vertical_rate`` [ft/min].

Only ``track_id``, ``t``, ``lat`` and ``lon`` are required in a record; a missing or ``null``
kinematic field is NaN (unknown). Times are epoch seconds (numbers above 1e11 are taken as
milliseconds) or ISO-8601 strings **with** a UTC offset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.model.traffic_table import (
    TIME_COLUMN,
    TRAFFIC_COLUMNS,
    from_milliseconds,
    time_value,
)

__all__ = [
    "NAMINGS",
    "NUMERIC_FIELDS",
    "Reject",
    "TrackBatch",
]

#: Numeric columns of a batch, in order (same names as ``TrackStates``).
NUMERIC_FIELDS: tuple[str, ...] = (
    "t",
    "lat",
    "lon",
    "alt_m",
    "gs_mps",
    "trk_deg",
    "vs_mps",
    "pos_accuracy_m",
    "vel_accuracy_mps",
)
_REQUIRED_NUMERIC = ("t", "lat", "lon")

#: Wire naming -> {SI field: (wire name, factor to SI)}; track id names are tried in order.
#: The ``traffic`` naming is :data:`~sharedsky.model.traffic_table.TRAFFIC_COLUMNS`'.
NAMINGS: dict[str, dict[str, tuple[str, float]]] = {
    "si": {f: (f, 1.0) for f in NUMERIC_FIELDS},
    "traffic": {
        "t": (TIME_COLUMN, 1.0),
        **{col.field: (name, col.factor) for name, col in TRAFFIC_COLUMNS.items()},
        "pos_accuracy_m": ("pos_accuracy_m", 1.0),
        "vel_accuracy_mps": ("vel_accuracy_mps", 1.0),
    },
}
_ID_NAMES = {"si": ("track_id",), "traffic": ("icao24", "track_id")}
_MAX_ID_LEN = 64
_MAX_RAW = 300


@dataclass(frozen=True)
class Reject:
    """One record that was not accepted: where it was, what it was, and why.

    ``index_or_line`` is the record's 0-based index in a push (or the 1-based line / row number
    of a file); ``raw`` its text (truncated to 300 characters); ``reason`` names the field.
    """

    index_or_line: int
    raw: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index_or_line, "raw": self.raw, "reason": self.reason}


def _raw(record: Any) -> str:
    try:
        text = json.dumps(record, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(record)
    return text[:_MAX_RAW]


def _num_value(v: Any, name: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{name}: must be a number or null, got {v!r}"[:120])
    return float(v)


def _check_ranges(lat: np.ndarray, lon: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-row reason code: 0 ok, 1 lat, 2 lon, 3 t (vectorised)."""
    code = np.zeros(lat.shape[0], dtype=np.int8)
    code[~np.isfinite(t)] = 3
    code[~((lon >= -180.0) & (lon <= 180.0))] = 2
    code[~((lat >= -90.0) & (lat <= 90.0))] = 1
    return code


_RANGE_REASON = {
    1: "lat: missing or outside [-90, 90]",
    2: "lon: missing or outside [-180, 180]",
    3: "t: missing or not finite",
}


@dataclass(frozen=True, eq=False)
class TrackBatch:
    """Accepted track states of one batch (columns) plus the rejected records.

    All columns have length ``len(batch)``; ``track_id`` is an object array of ``str``, the
    others are contiguous float64. ``rejects`` lists the records that did not make it, in input
    order. Build with :meth:`from_arrays`, :meth:`from_records`, :meth:`from_columns` or
    :meth:`empty`.
    """

    track_id: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt_m: np.ndarray
    gs_mps: np.ndarray
    trk_deg: np.ndarray
    vs_mps: np.ndarray
    pos_accuracy_m: np.ndarray
    vel_accuracy_mps: np.ndarray
    rejects: tuple[Reject, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.t.shape[0])

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def empty(cls, rejects: Sequence[Reject] = ()) -> TrackBatch:
        z = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=object), *([z] * len(NUMERIC_FIELDS)), rejects=tuple(rejects))

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]], rejects: Sequence[Reject] = ()) -> TrackBatch:
        """Build from rows ``(track_id, t, lat, lon, alt_m, gs_mps, trk_deg, vs_mps,
        pos_accuracy_m, vel_accuracy_mps)``, all of one length; rows may stop after ``lon`` or
        any later column (the columns left out are unknown). Checked as :meth:`from_arrays`."""
        if not rows:
            return cls.empty(rejects)
        track_id, *columns = zip(*rows, strict=True)
        return cls.from_arrays(list(track_id), *columns, rejects=rejects)

    @classmethod
    def from_arrays(
        cls,
        track_id: Any,
        t: Any,
        lat: Any,
        lon: Any,
        alt_m: Any = None,
        gs_mps: Any = None,
        trk_deg: Any = None,
        vs_mps: Any = None,
        pos_accuracy_m: Any = None,
        vel_accuracy_mps: Any = None,
        rejects: Sequence[Reject] = (),
        on_invalid: str = "collect",
    ) -> TrackBatch:
        """Build from equal-length SI columns (``None`` column = all unknown).

        Wrong shapes, lengths or non-numeric columns raise :class:`InvalidInput` naming the
        column. Rows with a missing/empty track id, a non-finite ``t`` or a ``lat``/``lon`` out
        of range are rejected (``on_invalid="collect"``, the default: moved to ``rejects`` with
        their row index) or raise (``on_invalid="raise"``).
        """
        if on_invalid not in ("collect", "raise"):
            raise InvalidInput("must be 'collect' or 'raise'", "on_invalid")
        tid = np.asarray(track_id, dtype=object)
        if tid.ndim != 1:
            raise InvalidInput(f"must be one-dimensional, got shape {tid.shape}", "track_id")
        n = tid.shape[0]
        given = {
            "t": t,
            "lat": lat,
            "lon": lon,
            "alt_m": alt_m,
            "gs_mps": gs_mps,
            "trk_deg": trk_deg,
            "vs_mps": vs_mps,
            "pos_accuracy_m": pos_accuracy_m,
            "vel_accuracy_mps": vel_accuracy_mps,
        }
        cols: dict[str, np.ndarray] = {}
        for name, v in given.items():
            if v is None:
                if name in _REQUIRED_NUMERIC:
                    raise InvalidInput("is required", name)
                cols[name] = np.full(n, np.nan)
                continue
            try:
                arr = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"must be numeric ({exc})", name) from exc
            if arr.ndim != 1 or arr.shape[0] != n:
                raise InvalidInput(f"has shape {arr.shape}, expected ({n},)", name)
            cols[name] = arr
        code = _check_ranges(cols["lat"], cols["lon"], cols["t"])
        ids = np.empty(n, dtype=object)
        for k in range(n):
            v = tid[k]
            if v is None or (isinstance(v, float) and v != v):
                code[k] = 4
                continue
            s = v if isinstance(v, str) else str(v)
            if not s or len(s) > _MAX_ID_LEN:
                code[k] = 4
            ids[k] = s
        bad = np.flatnonzero(code)
        out_rejects = list(rejects)
        if bad.size:
            reasons = {**_RANGE_REASON, 4: f"track_id: missing, empty or over {_MAX_ID_LEN} chars"}
            new = [
                Reject(
                    int(k),
                    _raw(
                        {"track_id": ids[k], **{f: float(cols[f][k]) for f in ("t", "lat", "lon")}}
                    ),
                    reasons[int(code[k])],
                )
                for k in bad
            ]
            if on_invalid == "raise":
                raise InvalidInput(f"row {new[0].index_or_line}: {new[0].reason}", "rows")
            out_rejects.extend(new)
            keep = code == 0
            ids = ids[keep]
            cols = {f: np.ascontiguousarray(c[keep]) for f, c in cols.items()}
        return cls(track_id=ids, **cols, rejects=tuple(out_rejects))

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any], naming: str | None = None) -> TrackBatch:
        """Build from a mapping of wire column name -> list (e.g. a columnar JSON body).

        ``naming`` is ``"si"`` or ``"traffic"`` (see module doc); ``None`` picks ``"traffic"``
        when a ``latitude`` column is present, else ``"si"``. Time columns may hold ISO strings.
        """
        if not isinstance(columns, Mapping):
            raise InvalidInput("must be an object of column name -> array", "columns")
        naming = naming or ("traffic" if "latitude" in columns else "si")
        if naming not in NAMINGS:
            raise InvalidInput(f"unknown naming {naming!r}; use 'si' or 'traffic'", "naming")
        names = NAMINGS[naming]
        id_name = next((c for c in _ID_NAMES[naming] if c in columns), None)
        if id_name is None:
            raise InvalidInput("missing column", _ID_NAMES[naming][0])
        n = len(columns[id_name])
        arrays: dict[str, Any] = {}
        for f, (wire, factor) in names.items():
            if wire not in columns:
                if f in _REQUIRED_NUMERIC:
                    raise InvalidInput("missing column", wire)
                continue
            col = columns[wire]
            if f == "t":
                try:
                    arr = np.asarray(col, dtype=np.float64)
                except (TypeError, ValueError):
                    arr = np.array([_safe_time(v, wire) for v in col], dtype=np.float64)
                arr = from_milliseconds(arr)
            else:
                try:
                    arr = np.asarray(
                        [math.nan if v is None else v for v in col]
                        if isinstance(col, list)
                        else col,
                        dtype=np.float64,
                    )
                except (TypeError, ValueError) as exc:
                    raise InvalidInput(f"must be numbers or null ({exc})", wire) from exc
                if factor != 1.0:
                    arr = arr * factor
            if arr.shape != (n,):
                raise InvalidInput(f"has length {arr.shape}, expected {n}", wire)
            arrays[f] = arr
        return cls.from_arrays(columns[id_name], **arrays)

    @classmethod
    def from_records(cls, records: Any, naming: str | None = None) -> TrackBatch:
        """Build from a list of dicts (a JSON ``states`` array), collecting bad records.

        A record that is not an object, lacks a required field or has a value of the wrong type
        becomes a :class:`Reject` with its 0-based index and a reason naming the field; the other
        records are kept. ``naming`` as in :meth:`from_columns` (auto: from the first object
        record). A non-list ``records`` raises :class:`InvalidInput`.

        The common case (every record well formed) runs as a handful of list comprehensions and
        one numpy conversion per column; only a batch with a bad record takes the per-record
        path.
        """
        if not isinstance(records, list):
            raise InvalidInput("must be an array of objects", "states")
        if naming is None:
            first = next((r for r in records if isinstance(r, dict)), None)
            naming = "traffic" if first is not None and "latitude" in first else "si"
        if naming not in NAMINGS:
            raise InvalidInput(f"unknown naming {naming!r}; use 'si' or 'traffic'", "naming")
        try:
            return cls._records_fast(records, naming)
        except (TypeError, ValueError, KeyError, AttributeError):
            return cls._records_slow(records, naming)

    @classmethod
    def _records_fast(cls, records: list[Any], naming: str) -> TrackBatch:
        names = NAMINGS[naming]
        id_name = _ID_NAMES[naming][0]
        ids = [r[id_name] for r in records]  # KeyError/TypeError -> slow path
        if not all(type(i) is str for i in ids):
            raise TypeError("ids")
        cols: dict[str, np.ndarray] = {}
        for f, (wire, factor) in names.items():
            if f in _REQUIRED_NUMERIC:
                vals = [r[wire] for r in records]
            else:
                vals = [r.get(wire) for r in records]
            # Refuse strings and booleans here (numpy would coerce them); ISO times go slow.
            if any(type(v) is str or type(v) is bool for v in vals):
                raise TypeError(f)
            arr = np.array(vals, dtype=np.float64)  # None -> nan
            if f == "t":
                arr = from_milliseconds(arr)
            elif factor != 1.0:
                arr *= factor
            cols[f] = arr
        if any(np.isnan(cols[f]).any() for f in _REQUIRED_NUMERIC):
            raise ValueError("null required")
        return cls.from_arrays(np.array(ids, dtype=object), **cols)

    @classmethod
    def _records_slow(cls, records: list[Any], naming: str) -> TrackBatch:
        names = NAMINGS[naming]
        id_names = _ID_NAMES[naming]
        ids: list[str] = []
        rows: list[list[float]] = []
        index: list[int] = []
        rejects: list[Reject] = []
        for k, r in enumerate(records):
            if not isinstance(r, dict):
                rejects.append(Reject(k, _raw(r), "record: not an object"))
                continue
            try:
                id_name = next((c for c in id_names if c in r), None)
                if id_name is None:
                    raise ValueError(f"{id_names[0]}: missing")
                tid = r[id_name]
                if not isinstance(tid, str | int) or isinstance(tid, bool):
                    raise ValueError(f"{id_name}: must be a string, got {tid!r}"[:120])
                row = []
                for f, (wire, factor) in names.items():
                    v = r.get(wire)
                    if f in _REQUIRED_NUMERIC and v is None:
                        raise ValueError(f"{wire}: missing")
                    x = time_value(v, wire) if f == "t" else _num_value(v, wire) * factor
                    row.append(x)
            except ValueError as exc:
                rejects.append(Reject(k, _raw(r), str(exc)))
                continue
            ids.append(str(tid))
            rows.append(row)
            index.append(k)
        if not rows:
            return cls.empty(rejects)
        mat = np.array(rows, dtype=np.float64)
        batch = cls.from_arrays(
            np.array(ids, dtype=object),
            *(mat[:, j] for j in range(len(NUMERIC_FIELDS))),
        )
        # from_arrays numbers its range rejects by position among kept rows: map back.
        late = [
            Reject(index[r.index_or_line], _raw(records[index[r.index_or_line]]), r.reason)
            for r in batch.rejects
        ]
        all_rejects = sorted([*rejects, *late], key=lambda r: r.index_or_line)
        return cls(
            **{f: getattr(batch, f) for f in ("track_id", *NUMERIC_FIELDS)},
            rejects=tuple(all_rejects),
        )

    # -- views --------------------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """The columns by SI name (``track_id`` first)."""
        return {f: getattr(self, f) for f in ("track_id", *NUMERIC_FIELDS)}

    def select(self, mask: Any) -> TrackBatch:
        """Rows by boolean mask or index array; rejects are kept."""
        idx = np.asarray(mask)
        return TrackBatch(
            **{f: np.ascontiguousarray(c[idx]) for f, c in self.columns().items()},
            rejects=self.rejects,
        )

    @staticmethod
    def concat(batches: Sequence[TrackBatch]) -> TrackBatch:
        """Rows of all batches in order; rejects concatenated (indices as given)."""
        if not batches:
            return TrackBatch.empty()
        cols = {
            f: np.concatenate([getattr(b, f) for b in batches])
            for f in ("track_id", *NUMERIC_FIELDS)
        }
        return TrackBatch(**cols, rejects=tuple(r for b in batches for r in b.rejects))


def _safe_time(v: Any, name: str) -> float:
    try:
        return time_value(v, name)
    except ValueError:
        return math.nan
