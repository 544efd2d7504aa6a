"""Tables of track states in the OpenSky / ``traffic`` naming, read into SI columns.

One reader (:func:`read_traffic_table`) for every table of reports, whether it comes from a
recording on disk, a DataFrame built in Python or a pyarrow Table.

Columns (:data:`TRAFFIC_COLUMNS`, one row per report): ``timestamp``, ``icao24`` (the track id;
another column with ``id_column``), ``latitude``, ``longitude`` [deg], ``altitude`` [ft],
``groundspeed`` [kt], ``track`` [deg true], ``vertical_rate`` [ft/min]. Other columns
(``callsign``, ``onground``, ``squawk``, ``party``...) are not read: :attr:`TrafficTable.rows`
gives each kept row's position in the input so that a caller can take them along.

Units: converted to the SI fields of :class:`~sharedsky.model.tracks.TrackBatch` (``t`` epoch
seconds UTC, ``lat``/``lon`` degrees, ``alt_m`` m, ``gs_mps`` m/s, ``trk_deg`` deg, ``vs_mps``
m/s); an empty cell is NaN (unknown).

Time rule (:func:`time_column`, :func:`time_value`): a timestamp is a datetime, epoch seconds,
epoch milliseconds as ``traffic``'s JSON stores them (any number whose magnitude is above
:data:`MILLISECONDS_ABOVE` = 1e11 is milliseconds: no epoch second count reaches it before the
year 5138) or ISO 8601 text. In a table, a time without a zone (naive datetime or text) means
UTC; a single pushed value (:func:`time_value`) says with ``naive`` whether it is refused.

Bad rows: ``on_invalid`` chooses, as ``shapely.from_wkt`` does:

* ``"raise"``: :class:`~sharedsky.errors.InvalidInput` for the first check below that any row
  fails, naming the column and that check's first bad row (rows count from ``first_row``);
* ``"skip"``: bad rows are left out;
* ``"collect"``: bad rows are left out and returned as
  :class:`~sharedsky.model.tracks.Reject` (row number, raw values, a reason naming the column).

The checks, in order (each rejected row carries the reason of its first failed check): the id
is present and (``max_id_len``) not too long; the time is a time, and present when it is in
``required_values``; then per numeric column: a number, inside its range (``check_ranges``:
latitude [-90, 90], longitude [-180, 180], groundspeed >= 0, all finite), and present when in
``required_values``. A missing column of ``required`` (or the id column) raises whatever
``on_invalid`` says: that is the whole table, not a row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS

if TYPE_CHECKING:
    import pandas as pd

    from sharedsky.model.tracks import Reject

__all__ = [
    "ALL_COLUMNS",
    "ID_COLUMN",
    "MILLISECONDS_ABOVE",
    "ON_INVALID",
    "RECORDING_COLUMNS",
    "TIME_COLUMN",
    "TRAFFIC_COLUMNS",
    "TrafficColumn",
    "TrafficTable",
    "as_pandas",
    "from_milliseconds",
    "read_traffic_table",
    "time_column",
    "time_value",
]


class TrafficColumn(NamedTuple):
    """A numeric column of a traffic table: its SI field, the factor to SI and its valid range
    (inclusive; None: unbounded)."""

    field: str
    factor: float
    lo: float | None
    hi: float | None


TIME_COLUMN = "timestamp"
ID_COLUMN = "icao24"
#: Numeric columns of a traffic table, in order.
TRAFFIC_COLUMNS: dict[str, TrafficColumn] = {
    "latitude": TrafficColumn("lat", 1.0, -90.0, 90.0),
    "longitude": TrafficColumn("lon", 1.0, -180.0, 180.0),
    "altitude": TrafficColumn("alt_m", FT_TO_M, None, None),
    "groundspeed": TrafficColumn("gs_mps", KT_TO_MPS, 0.0, None),
    "track": TrafficColumn("trk_deg", 1.0, None, None),
    "vertical_rate": TrafficColumn("vs_mps", FPM_TO_MPS, None, None),
}
#: The columns a recording must have (an absent kinematic column is unknown on every row).
RECORDING_COLUMNS: tuple[str, ...] = (TIME_COLUMN, ID_COLUMN, "latitude", "longitude")
#: Every column the reader converts.
ALL_COLUMNS: tuple[str, ...] = (TIME_COLUMN, ID_COLUMN, *TRAFFIC_COLUMNS)
#: Numbers of larger magnitude in a time column are epoch milliseconds.
MILLISECONDS_ABOVE = 1e11
ON_INVALID: tuple[str, ...] = ("raise", "skip", "collect")
_MAX_RAW = 300


# -- time -----------------------------------------------------------------------------------------


def from_milliseconds(values: Any) -> np.ndarray:
    """Epoch seconds from epoch seconds or milliseconds, value by value (the rule above)."""
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(arr) > MILLISECONDS_ABOVE, arr / 1000.0, arr)


def time_value(v: Any, name: str, *, naive: Literal["utc", "refuse"] = "refuse") -> float:
    """One time value (number, numeric text, ISO 8601 text or datetime) as epoch seconds.

    ``naive`` says what a time without a zone means: ``"refuse"`` (a pushed record must say) or
    ``"utc"``. Raises :class:`ValueError` with a message starting with ``name``.
    """
    if isinstance(v, bool):
        raise ValueError(f"{name}: not a time: {v!r}")
    if isinstance(v, int | float):
        x = float(v)
    elif isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            try:
                d = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError(f"{name}: not a time: {v[:40]!r}") from exc
            if d.tzinfo is None:
                if naive == "refuse":
                    raise ValueError(f"{name}: time {v[:40]!r} has no UTC offset") from None
                d = d.replace(tzinfo=UTC)
            x = d.timestamp()
    elif isinstance(v, datetime):
        if v.tzinfo is None:
            if naive == "refuse":
                raise ValueError(f"{name}: naive datetime (UTC-aware required)")
            v = v.replace(tzinfo=UTC)
        x = v.timestamp()
    else:
        raise ValueError(f"{name}: not a time: {v!r}")
    if not math.isfinite(x):
        raise ValueError(f"{name}: not finite")
    return x / 1000.0 if abs(x) > MILLISECONDS_ABOVE else x


def time_column(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of a column of times (NaN where empty or unusable) and the mask of cells
    that hold something that is not a time. Datetimes, numbers and text as in the module
    docstring; a time without a zone is UTC."""
    import pandas as pd

    n = len(col)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        s = col.dt.tz_convert("UTC") if getattr(col.dt, "tz", None) else col.dt.tz_localize("UTC")
        ns = s.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        out = ns.astype(np.int64).astype(np.float64) / 1e9
        out[np.isnat(ns)] = np.nan
        return out, np.zeros(n, dtype=bool)
    numbers, text = _numeric(col)
    if text.any():
        parsed = pd.to_datetime(col[text], errors="coerce", utc=True, format="mixed")
        ns = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        ok = ~np.isnat(ns)
        idx = np.flatnonzero(text)
        numbers[idx[ok]] = ns[ok].astype(np.int64).astype(np.float64) / 1e9
        text[idx[ok]] = False
    return from_milliseconds(numbers), text


# -- cells ----------------------------------------------------------------------------------------


def as_pandas(frame: Any) -> pd.DataFrame:
    """``frame`` as a pandas DataFrame (a pyarrow Table is converted; other types refused)."""
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):
        return frame.to_pandas()
    raise InvalidInput(f"expected a pandas DataFrame or pyarrow Table, got {type(frame)}", "frame")


def _present(col: pd.Series) -> np.ndarray:
    """Cells that hold something (not NaN/None, not blank text)."""
    import pandas as pd

    present = col.notna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        present &= col.astype(str).str.strip().ne("").to_numpy()
    return present


def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values (NaN when empty) and a mask of cells that hold something that is not a
    number (text, booleans)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):
        return np.full(len(col), np.nan), _present(col)
    if pd.api.types.is_numeric_dtype(col):  # every cell a number or empty
        values = col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        return values, np.zeros(len(col), dtype=bool)
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.array(values, dtype=np.float64, copy=True)
    if col.dtype == object:  # booleans in a JSON column are not numbers
        is_bool = col.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
        values[is_bool] = np.nan
    bad = _present(col) & np.isnan(values)
    return values, bad


def _raw_row(df: pd.DataFrame, k: int) -> str:
    row = {str(c): v for c, v in df.iloc[k].items() if not (isinstance(v, float) and v != v)}
    try:
        text = json.dumps(row, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(row)
    return text[:_MAX_RAW]


def _bounds_text(lo: float | None, hi: float | None) -> str:
    parts = [f"from {lo:g}" if lo is not None else "", f"to {hi:g}" if hi is not None else ""]
    return " ".join(p for p in parts if p) or "finite"


# -- the reader -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrafficTable:
    """The rows a table's checks kept, in input order, in SI.

    ``track_id``: object array of ``str``; ``columns``: SI field (``t``, ``lat``, ``lon``,
    ``alt_m``, ``gs_mps``, ``trk_deg``, ``vs_mps``) -> contiguous float64, NaN where unknown (an
    absent optional column is NaN on every row); ``rows``: each kept row's 0-based position in
    the input; ``rejects``: the rows left out (``on_invalid="collect"``; empty otherwise).
    """

    track_id: np.ndarray
    columns: dict[str, np.ndarray]
    rows: np.ndarray
    rejects: tuple[Reject, ...]

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True)
class _Check:
    column: str
    mask: np.ndarray
    reason: Callable[[int], str]  # a rejected row's reason (starts with the column)
    message: Callable[[int], str]  # the InvalidInput message (starts with the row)


def read_traffic_table(
    frame: Any,
    *,
    on_invalid: Literal["raise", "skip", "collect"] = "raise",
    required: Sequence[str] = RECORDING_COLUMNS,
    required_values: Sequence[str] = RECORDING_COLUMNS,
    id_column: str = ID_COLUMN,
    normalise_ids: bool = True,
    max_id_len: int | None = 64,
    check_ranges: bool = True,
    first_row: int = 1,
) -> TrafficTable:
    """Check a traffic table and convert it to SI (see the module docstring).

    Parameters:
        frame: a pandas DataFrame or a pyarrow Table.
        on_invalid: ``"raise"``, ``"skip"`` or ``"collect"``: what a bad row does.
        required: columns that must be present (``id_column`` always is); the timestamp column
            always is.
        required_values: columns whose empty cells make a row bad (else they stay NaN).
        id_column: the column of track ids (``icao24``).
        normalise_ids: strip and lower-case the ids, as aircraft addresses are compared; False
            keeps each id's text as it is.
        max_id_len: longest id (characters) accepted; None: no limit.
        check_ranges: refuse values outside the columns' ranges and infinities; False accepts
            any number (a container that leaves that policy to detection).
        first_row: the number of the first data row in messages and rejects (1: as a
            spreadsheet numbers them below the header).

    Raises:
        InvalidInput: ``on_invalid`` is none of the three; a column of ``required`` is missing;
            with ``"raise"``, a bad row.
    """
    if on_invalid not in ON_INVALID:
        raise InvalidInput("must be 'raise', 'skip' or 'collect'", "on_invalid")
    df = as_pandas(frame)
    named = (id_column if c == ID_COLUMN else c for c in required)
    need = list(dict.fromkeys([TIME_COLUMN, id_column, *named]))
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(have: {', '.join(map(str, df.columns))})",
            "columns",
        )
    df = df.reset_index(drop=True)
    n = len(df)
    want = {id_column if c == ID_COLUMN else c for c in required_values}
    checks: list[_Check] = []

    def check(column: str, mask: np.ndarray, reason: Callable[[int], str], detail: Any) -> None:
        checks.append(_Check(column, mask, reason, lambda k: f"row {k + first_row}: {detail(k)}"))

    ids_raw = df[id_column]
    if normalise_ids:
        id_text = ids_raw.astype(str).fillna("").str.strip().str.lower()
        no_id = ~_present(ids_raw)
    else:
        id_text = ids_raw.astype(str)
        no_id = ids_raw.isna().to_numpy()
    ids = id_text.to_numpy(dtype=object)
    check(
        id_column,
        no_id,
        lambda k: f"{id_column}: missing aircraft address",
        lambda k: "missing aircraft address",
    )
    if max_id_len is not None:
        too_long = (id_text.str.len().to_numpy(dtype=np.int64) > max_id_len) & ~no_id
        check(
            id_column,
            too_long,
            lambda k: f"{id_column}: longer than {max_id_len} characters",
            lambda k: f"longer than {max_id_len} characters",
        )

    times = df[TIME_COLUMN]
    t, bad_t = time_column(times)
    check(
        TIME_COLUMN,
        bad_t,
        lambda k: f"{TIME_COLUMN}: not a time: {str(times.iloc[k])[:40]!r}",
        lambda k: f"not a time: {times.iloc[k]!r}",
    )
    if TIME_COLUMN in want:
        check(
            TIME_COLUMN,
            ~np.isfinite(t),
            lambda k: f"{TIME_COLUMN}: missing",
            lambda k: "missing time",
        )

    columns: dict[str, np.ndarray] = {"t": t}
    for name, (field, factor, lo, hi) in TRAFFIC_COLUMNS.items():
        if name not in df.columns:
            columns[field] = np.full(n, np.nan)
            continue
        raw = df[name]
        values, bad = _numeric(raw)
        check(
            name,
            bad,
            lambda k, c=name, raw=raw: f"{c}: not a number: {str(raw.iloc[k])[:40]!r}",
            lambda k, raw=raw: f"not a number: {raw.iloc[k]!r}",
        )
        if check_ranges:
            with np.errstate(invalid="ignore"):
                out = np.isinf(values)
                if lo is not None:
                    out |= values < lo
                if hi is not None:
                    out |= values > hi
            check(
                name,
                out,
                lambda k, c=name, lo=lo, hi=hi, v=values: f"{c}: {v[k]!r} outside [{lo}, {hi}]",
                lambda k, b=_bounds_text(lo, hi), v=values: f"out of range ({b}): {v[k]!r}",
            )
        if name in want:
            check(name, np.isnan(values), lambda k, c=name: f"{c}: missing", lambda k: "missing")
        columns[field] = values * factor if factor != 1.0 else values

    flagged = np.zeros(n, dtype=bool)
    reason = np.full(n, None, dtype=object)
    for c in checks:
        if not c.mask.any():
            continue
        if on_invalid == "raise":
            raise InvalidInput(c.message(int(np.flatnonzero(c.mask)[0])), c.column)
        new = c.mask & ~flagged
        if on_invalid == "collect":
            for k in np.flatnonzero(new):
                reason[k] = c.reason(int(k))
        flagged |= new
    good = ~flagged
    rejects: tuple[Reject, ...] = ()
    if on_invalid == "collect" and flagged.any():
        from sharedsky.model.tracks import Reject

        rejects = tuple(
            Reject(int(k) + first_row, _raw_row(df, int(k)), str(reason[k]))
            for k in np.flatnonzero(flagged)
        )
    if flagged.any():
        ids = ids[good]
        columns = {f: np.ascontiguousarray(c[good]) for f, c in columns.items()}
    else:
        columns = {f: np.ascontiguousarray(c) for f, c in columns.items()}
    return TrafficTable(ids, columns, np.flatnonzero(good), rejects)
