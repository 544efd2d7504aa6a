"""Reading and writing tables of track states and results (CSV, Parquet, JSON).

States use the OpenSky / ``traffic`` column names and units: ``timestamp`` (UTC: ISO text, naive
text meaning UTC, epoch seconds, or epoch milliseconds as in ``traffic``'s JSON: any number above
1e11 is taken as milliseconds), ``icao24`` (lower-cased),
``callsign`` (optional), ``latitude``, ``longitude`` [deg], ``altitude`` [ft], ``groundspeed``
[kt], ``track`` [deg], ``vertical_rate`` [ft/min], optional ``party``. Units are converted to SI by
:meth:`sharedsky.tactical.TrackStates.from_traffic_frame`.

Bad input is refused with :class:`~sharedsky.errors.InvalidInput` naming the column and the first
bad row (rows count from 1, the first data row, as a spreadsheet shows them below the header).
Empty cells are missing values, not errors: they stay NaN and detection's own policy handles them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sharedsky.errors import InvalidInput
from sharedsky.feeds.tables import read_table
from sharedsky.feeds.tables import table_format as _format_of
from sharedsky.tactical import TrackStates

__all__ = [
    "NUMERIC_COLUMNS",
    "REQUIRED_COLUMNS",
    "complete_rows",
    "read_states",
    "read_table",
    "states_from_table",
    "write_table",
]

#: Numeric columns of a states table and their valid ranges (inclusive; None: unbounded).
NUMERIC_COLUMNS: dict[str, tuple[float | None, float | None]] = {
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "altitude": (None, None),
    "groundspeed": (0.0, None),
    "track": (None, None),
    "vertical_rate": (None, None),
}
REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "icao24", *NUMERIC_COLUMNS)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    raw = df[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = raw.notna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(raw):
        present &= raw.astype(str).str.strip().ne("").to_numpy()
    bad = present & np.isnan(values)
    if bad.any():
        k = _first_bad(bad)
        raise InvalidInput(f"row {k + 1}: not a number: {raw.iloc[k]!r}", col)
    lo, hi = NUMERIC_COLUMNS.get(col, (None, None))
    with np.errstate(invalid="ignore"):
        out = np.zeros(values.shape, dtype=bool)
        if lo is not None:
            out |= values < lo
        if hi is not None:
            out |= values > hi
        out |= np.isinf(values)
    if out.any():
        k = _first_bad(out)
        parts = [f"from {lo:g}" if lo is not None else "", f"to {hi:g}" if hi is not None else ""]
        bounds = " ".join(p for p in parts if p) or "finite"
        raise InvalidInput(f"row {k + 1}: out of range ({bounds}): {values[k]!r}", col)
    return values


def _timestamps(col: pd.Series) -> np.ndarray:
    """Epoch seconds (float, NaN for empty cells) from datetimes, numbers or text."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        s = col.dt.tz_convert("UTC") if getattr(col.dt, "tz", None) else col.dt.tz_localize("UTC")
        ns = s.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        out = ns.astype(np.int64).astype(np.float64) / 1e9
        out[np.isnat(ns)] = np.nan
        return out
    numbers = pd.to_numeric(col, errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan, copy=True
    )
    present = col.notna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(col):
        present &= col.astype(str).str.strip().ne("").to_numpy()
    text = present & np.isnan(numbers)
    if text.any():
        parsed = pd.to_datetime(col[text], errors="coerce", utc=True, format="mixed")
        ns = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        bad = np.isnat(ns)
        if bad.any():
            k = int(np.flatnonzero(text)[np.flatnonzero(bad)[0]])
            raise InvalidInput(f"row {k + 1}: not a time: {col.iloc[k]!r}", "timestamp")
        numbers[text] = ns.astype(np.int64).astype(np.float64) / 1e9
    # traffic's JSON stores epoch milliseconds; no real epoch second count reaches 1e11 (year 5138)
    with np.errstate(invalid="ignore"):
        millis = np.abs(numbers) > 1e11
    numbers[millis] /= 1000.0
    return numbers


def states_from_table(
    df: pd.DataFrame,
    default_party: str | None = None,
    party_column: str = "party",
) -> TrackStates:
    """Validate an OpenSky / ``traffic`` states table and convert it to :class:`TrackStates`.

    Party rule: a ``party`` column names each row's party; rows without one (no column, or an
    empty cell) get ``default_party``, or, when that is None, their own aircraft address
    (``icao24``), so that every aircraft is its own party and the default "different parties
    only" detection covers every pair of aircraft.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(have: {', '.join(map(str, df.columns))})",
            "columns",
        )
    ids = df["icao24"]
    empty_id = ids.isna().to_numpy() | ids.astype(str).str.strip().eq("").to_numpy()
    if empty_id.any():
        raise InvalidInput(f"row {_first_bad(empty_id) + 1}: missing aircraft address", "icao24")
    icao = ids.astype(str).str.strip().str.lower()
    t = _timestamps(df["timestamp"])
    if np.isnan(t).any():
        raise InvalidInput(f"row {_first_bad(np.isnan(t)) + 1}: missing time", "timestamp")
    fallback = icao if default_party is None else pd.Series(default_party, index=df.index)
    if party_column in df.columns:
        given = df[party_column]
        blank = given.isna() | given.astype(str).str.strip().eq("")
        party = given.astype(str).str.strip().where(~blank, fallback)
    else:
        party = fallback
    frame = pd.DataFrame(
        {
            "timestamp": t,
            "icao24": icao.to_numpy(dtype=object),
            "party": party.to_numpy(dtype=object),
            **{c: _numeric(df, c) for c in NUMERIC_COLUMNS},
        }
    )
    return TrackStates.from_traffic_frame(frame, party_column="party")


def complete_rows(states: TrackStates) -> np.ndarray:
    """Boolean mask of the rows whose time, position, altitude and velocity are all finite.

    Feeds such as OpenSky report position and velocity in separate messages, so many rows of a
    recording lack one or the other; a track is assessed from its latest complete row.
    """
    ok = np.ones(len(states), dtype=bool)
    for name in ("t", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps"):
        ok &= np.isfinite(getattr(states, name))
    return ok


def read_states(
    path: str | Path, default_party: str | None = None, party_column: str = "party"
) -> TrackStates:
    """:func:`read_table` then :func:`states_from_table`."""
    return states_from_table(read_table(path), default_party, party_column)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` as CSV, Parquet or JSON (records; gzip for ``.json.gz``) by file name."""
    p = Path(path)
    fmt = _format_of(p)
    try:
        if fmt == "csv":
            df.to_csv(p, index=False)
        elif fmt == "parquet":
            df.to_parquet(p, index=False)
        else:
            df.to_json(p, orient="records", lines=fmt == "jsonl", date_format="iso", indent=None)
    except OSError as exc:
        raise InvalidInput(f"cannot write {p}: {exc}", "out") from exc
