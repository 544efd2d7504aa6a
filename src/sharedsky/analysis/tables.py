"""Reading and writing tables of track states and results (CSV, Parquet, JSON).

States use the OpenSky / ``traffic`` column names and units: ``timestamp`` (UTC: ISO text, naive
text meaning UTC, epoch seconds, or epoch milliseconds as in ``traffic``'s JSON: any number above
1e11 is taken as milliseconds), ``icao24`` (lower-cased),
``callsign`` (optional), ``latitude``, ``longitude`` [deg], ``altitude`` [ft], ``groundspeed``
[kt], ``track`` [deg], ``vertical_rate`` [ft/min], optional ``party``. Checked and converted to SI
by :func:`sharedsky.model.traffic_table.read_traffic_table` (every column required, bad input
raised).

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
from sharedsky.model.traffic_table import ALL_COLUMNS, TRAFFIC_COLUMNS, read_traffic_table
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
    name: (col.lo, col.hi) for name, col in TRAFFIC_COLUMNS.items()
}
REQUIRED_COLUMNS: tuple[str, ...] = ALL_COLUMNS


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
    table = read_traffic_table(
        df,
        on_invalid="raise",
        required=REQUIRED_COLUMNS,
        required_values=("timestamp", "icao24"),
        max_id_len=None,
    )
    df = df.reset_index(drop=True)
    icao = pd.Series(table.track_id, index=df.index)
    fallback = icao if default_party is None else pd.Series(default_party, index=df.index)
    if party_column in df.columns:
        given = df[party_column]
        blank = given.isna() | given.astype(str).str.strip().eq("")
        party = given.astype(str).str.strip().where(~blank, fallback)
    else:
        party = fallback
    return TrackStates.from_arrays(
        track_id=table.track_id, party=party.to_numpy(dtype=object), **table.columns
    )


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
