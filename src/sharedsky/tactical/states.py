"""Track states: one row per surveillance report, columnar (numpy) for speed.

Units and frames (SI inside): ``t`` epoch seconds (UTC), ``lat``/``lon`` WGS-84 degrees, ``alt_m``
metres (barometric or geometric, as the feed gives it; all tracks of one detection must use the
same reference), ``gs_mps`` ground speed m/s, ``trk_deg`` true track angle degrees clockwise from
north, ``vs_mps`` vertical rate m/s (positive up), optional ``pos_accuracy_m`` (horizontal
position accuracy, 95 %) and ``vel_accuracy_mps`` (horizontal velocity accuracy, 95 %); NaN means
unknown.

A ``TrackStates`` is a plain container: it accepts NaN in any numeric field (real feeds have
them). What detection does with such rows is a policy of
:func:`~sharedsky.tactical.detect_conflicts` (``on_invalid``). Wrong shapes, lengths or
types are refused here with :class:`~sharedsky.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.model.traffic_table import ALL_COLUMNS, as_pandas, read_traffic_table, time_column
from sharedsky.units import ensure_utc

__all__ = ["NUMERIC_FIELDS", "REQUIRED_FIELDS", "TrackStates"]

#: Numeric columns every state must carry (NaN allowed in the container, see module doc).
REQUIRED_FIELDS: tuple[str, ...] = ("t", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps")
#: All numeric columns, in order.
NUMERIC_FIELDS: tuple[str, ...] = (*REQUIRED_FIELDS, "pos_accuracy_m", "vel_accuracy_mps")


def _float_column(value: Any, field: str, n: int | None) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"must be numeric ({exc})", field) from exc
    if arr.ndim != 1:
        raise InvalidInput(f"must be one-dimensional, got shape {arr.shape}", field)
    if n is not None and arr.shape[0] != n:
        raise InvalidInput(f"has length {arr.shape[0]}, expected {n}", field)
    return arr


def _str_column(value: Any, field: str, n: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 1:
        raise InvalidInput(f"must be one-dimensional, got shape {arr.shape}", field)
    if n is not None and arr.shape[0] != n:
        raise InvalidInput(f"has length {arr.shape[0]}, expected {n}", field)
    out = np.empty(arr.shape[0], dtype=object)
    for k, v in enumerate(arr):
        if v is None or (isinstance(v, float) and v != v):
            raise InvalidInput(f"row {k} is missing", field)
        out[k] = str(v)
    return out


def _epoch_seconds(value: Any, field: str = "t") -> float:
    if isinstance(value, datetime):
        return ensure_utc(value, field).timestamp()
    if isinstance(value, np.datetime64):
        return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not a time: {value!r}", field) from exc


@dataclass(frozen=True, eq=False)
class TrackStates:
    """Columnar track states (see the module docstring for units).

    Build with :meth:`from_arrays`, :meth:`from_records`, :meth:`from_frame` or
    :meth:`from_traffic_frame`; all arrays have the same length ``len(states)``.
    """

    track_id: np.ndarray
    party: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt_m: np.ndarray
    gs_mps: np.ndarray
    trk_deg: np.ndarray
    vs_mps: np.ndarray
    pos_accuracy_m: np.ndarray
    vel_accuracy_mps: np.ndarray

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        track_id: Any,
        party: Any,
        t: Any,
        lat: Any,
        lon: Any,
        alt_m: Any,
        gs_mps: Any,
        trk_deg: Any,
        vs_mps: Any,
        pos_accuracy_m: Any = None,
        vel_accuracy_mps: Any = None,
    ) -> TrackStates:
        """Build from equal-length sequences; ``party`` may be one string for every row."""
        tid = _str_column(track_id, "track_id", None)
        n = tid.shape[0]
        if isinstance(party, str):
            party = [party] * n
        cols = {
            "t": t,
            "lat": lat,
            "lon": lon,
            "alt_m": alt_m,
            "gs_mps": gs_mps,
            "trk_deg": trk_deg,
            "vs_mps": vs_mps,
        }
        num = {k: _float_column(v, k, n) for k, v in cols.items()}
        for k, v in (("pos_accuracy_m", pos_accuracy_m), ("vel_accuracy_mps", vel_accuracy_mps)):
            num[k] = np.full(n, np.nan) if v is None else _float_column(v, k, n)
        return cls(track_id=tid, party=_str_column(party, "party", n), **num)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> TrackStates:
        """Build from dicts with the SI field names; ``t`` may be a UTC-aware datetime."""
        rows = list(records)
        cols: dict[str, list[Any]] = {k: [] for k in ("track_id", "party", *NUMERIC_FIELDS)}
        for k, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInput(f"record {k} is not a mapping", "records")
            for name in ("track_id", "party", *REQUIRED_FIELDS):
                if name not in row:
                    raise InvalidInput(f"record {k} lacks it", name)
            for name in cols:
                v = row.get(name, np.nan)
                cols[name].append(_epoch_seconds(v, "t") if name == "t" else v)
        return cls.from_arrays(**cols)

    @classmethod
    def from_frame(cls, frame: Any) -> TrackStates:
        """Build from a pandas DataFrame or pyarrow Table with the SI column names."""
        df = as_pandas(frame)
        missing = [c for c in ("track_id", "party", *REQUIRED_FIELDS) if c not in df.columns]
        if missing:
            raise InvalidInput(f"missing columns {missing}", "columns")
        cols = {c: df[c].to_numpy() for c in ("track_id", "party")}
        cols["t"] = _time_column(df["t"], "t")
        for c in NUMERIC_FIELDS[1:]:
            if c in df.columns:
                cols[c] = df[c].to_numpy(dtype=np.float64, na_value=np.nan)
        return cls.from_arrays(**cols)

    @classmethod
    def from_traffic_frame(
        cls,
        frame: Any,
        party_column: str = "party",
        default_party: str = "unknown",
        id_column: str = "icao24",
    ) -> TrackStates:
        """Build from an OpenSky / ``traffic`` table (pandas or pyarrow).

        Columns: ``timestamp`` (datetime, tz-aware or naive meaning UTC, ISO text, or epoch
        seconds; numbers above 1e11 are taken as epoch milliseconds), ``icao24`` (the track id,
        or ``id_column``), ``latitude``, ``longitude`` (deg), ``altitude`` [ft], ``groundspeed``
        [kt], ``track`` [deg], ``vertical_rate`` [ft/min], optional ``party_column`` (else
        ``default_party`` for every row). Read by
        :func:`~sharedsky.model.traffic_table.read_traffic_table` as a container: every column
        required, any number accepted (out-of-range values and empty cells are left to
        detection's policy), ids kept as they are; a missing id or a cell that is not a number
        or a time raises :class:`~sharedsky.errors.InvalidInput`.
        """
        df = as_pandas(frame)
        table = read_traffic_table(
            df,
            on_invalid="raise",
            required=ALL_COLUMNS,
            required_values=(id_column,),
            id_column=id_column,
            normalise_ids=False,
            max_id_len=None,
            check_ranges=False,
        )
        if party_column in df.columns:
            party: Any = df[party_column].fillna(default_party).to_numpy()
        else:
            party = default_party
        return cls.from_arrays(track_id=table.track_id, party=party, **table.columns)

    # -- views ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.t.shape[0])

    def select(self, mask: Any) -> TrackStates:
        """Rows chosen by a boolean mask or an integer index array (in that order)."""
        idx = np.asarray(mask)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise InvalidInput(
                f"boolean mask of shape {idx.shape}, expected ({len(self)},)", "mask"
            )
        return TrackStates(
            **{
                name: np.ascontiguousarray(getattr(self, name)[idx])
                for name in ("track_id", "party", *NUMERIC_FIELDS)
            }
        )

    def latest(
        self, at: float | datetime | None = None, max_age_s: float | None = None
    ) -> TrackStates:
        """The latest state per ``track_id`` with ``t <= at`` (all rows when ``at`` is None).

        With ``max_age_s``, tracks whose latest state is older than that at ``at`` (or at the
        newest time of the table when ``at`` is None) are left out: they are gone from the
        picture, as a tracker drops a track that stopped reporting. Rows with NaN ``t`` are
        ignored. Ties on ``t`` keep the later row. The result is ordered by track id.
        """
        t = self.t
        ok = ~np.isnan(t)
        cut = None if at is None else _epoch_seconds(at, "at")
        if cut is not None:
            ok &= t <= cut
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return self.select(idx)
        ids = self.track_id[idx].astype(str)
        order = np.lexsort((idx, t[idx], ids))  # by id, then t, then row
        sid = ids[order]
        last = np.ones(sid.shape[0], dtype=bool)
        last[:-1] = sid[1:] != sid[:-1]
        keep = idx[order][last]
        if max_age_s is not None:
            if not max_age_s >= 0:
                raise InvalidInput("must be a non-negative number of seconds", "max_age_s")
            ref = cut if cut is not None else float(t[keep].max())
            keep = keep[t[keep] >= ref - max_age_s]
        return self.select(keep)

    def to_frame(self) -> Any:
        """A pandas DataFrame with the SI column names."""
        import pandas as pd

        return pd.DataFrame(
            {name: getattr(self, name) for name in ("track_id", "party", *NUMERIC_FIELDS)}
        )


def _time_column(col: Any, field: str) -> np.ndarray:
    seconds, bad = time_column(col)
    if bad.any():
        raise InvalidInput(f"not a time: {col.iloc[int(np.flatnonzero(bad)[0])]!r}", field)
    return seconds
