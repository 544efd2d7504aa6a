"""Replay of a recorded table of track states as a feed (:class:`TableReplay`).

A recording is a table in the OpenSky / ``traffic`` naming and units, one row per report:
``timestamp`` (epoch seconds, epoch milliseconds as ``traffic``'s JSON stores them, any number
above 1e11 being taken as milliseconds, or ISO 8601 text, a time without a zone meaning UTC),
``icao24`` (the track id, lower-cased), ``latitude``, ``longitude`` [deg], ``altitude`` [ft],
``groundspeed`` [kt], ``track`` [deg], ``vertical_rate`` [ft/min]; other columns (``callsign``,
``squawk``...) are ignored. ``timestamp``, ``icao24``, ``latitude`` and ``longitude`` are
required columns; an absent kinematic column is unknown (NaN) on every row. Files are CSV,
Parquet, JSON records (as pandas and ``traffic`` write them, gzip allowed) or JSON lines, the
format chosen by the file name (:func:`read_table`).

The replay cuts the recording into time slices of ``step_s`` (1 s) of recording time and yields
one :class:`~sharedsky.model.tracks.TrackBatch` per slice that holds rows, in SI units, at
``speed`` times real time: the slice ``[t0 + k step, t0 + (k+1) step)`` is released when
``(k+1) step / speed`` seconds have passed since the replay began, so no state is released
before its (replay) time. By default (``retime=True``) each state is stamped with that replay
time on the wall clock, ``anchor + (t - t0) / speed``, so a live service sees fresh data; the
recorded kinematics (speeds, rates) are kept as they are.

Bad rows never stop a replay: a row with a missing or malformed id, time or position, a
non-numeric value, or a value out of range becomes a :class:`~sharedsky.model.tracks.Reject`
carrying its row number (1 = the first data row, as a spreadsheet numbers them below the header),
its raw values and a reason naming the column. Each reject travels in the batch of the nearest
earlier good row of the file. Empty kinematic cells are not errors: they stay NaN (unknown).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.errors import InvalidInput
from sharedsky.feeds.base import FeedHealth
from sharedsky.model.tracks import Reject, TrackBatch
from sharedsky.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS, ensure_utc

__all__ = [
    "ReplayProgress",
    "TableReplay",
    "read_table",
    "table_format",
]

_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".json.gz": "json",
    ".jsonl": "jsonl",
}

#: Numeric columns of a recording: (SI field, factor to SI, lowest, highest valid value).
_NUMERIC: dict[str, tuple[str, float, float | None, float | None]] = {
    "latitude": ("lat", 1.0, -90.0, 90.0),
    "longitude": ("lon", 1.0, -180.0, 180.0),
    "altitude": ("alt_m", FT_TO_M, None, None),
    "groundspeed": ("gs_mps", KT_TO_MPS, 0.0, None),
    "track": ("trk_deg", 1.0, None, None),
    "vertical_rate": ("vs_mps", FPM_TO_MPS, None, None),
}
_REQUIRED = ("timestamp", "icao24", "latitude", "longitude")
_MAX_ID_LEN = 64
_MAX_RAW = 300


def table_format(path: str | Path) -> str:
    """``"csv"``, ``"parquet"``, ``"json"`` or ``"jsonl"`` from the file name; anything else is
    refused with :class:`InvalidInput` (field ``path``)."""
    name = Path(path).name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    raise InvalidInput(
        f"unknown file type {Path(path).name!r}; use .csv, .parquet, .json, .json.gz or .jsonl",
        "path",
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet, JSON (records, as pandas / ``traffic`` write them; gzip allowed) or
    JSON-lines file into a DataFrame, the format chosen by the file name.

    CSV cells are read as text (empty cells as missing) so that later validation can name the
    bad row; JSON numbers stay numbers (no type guessing, no date conversion).
    """
    p = Path(path)
    fmt = table_format(p)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}", "path")
    try:
        if fmt == "csv":
            return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
        if fmt == "parquet":
            return pd.read_parquet(p)
        return pd.read_json(p, orient="records", lines=fmt == "jsonl", dtype=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {p.name}: {exc}", "path") from exc
    except Exception as exc:  # pyarrow and the csv parser have their own error types
        raise InvalidInput(f"cannot read {p.name}: {type(exc).__name__}: {exc}", "path") from exc


# -- per-row validation (vectorised; each bad row gets the reason of its first bad column) -----


def _present(col: pd.Series) -> np.ndarray:
    """Cells that hold something (not NaN/None, not blank text)."""
    present = col.notna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        present &= col.astype(str).str.strip().ne("").to_numpy()
    return present


def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values (NaN when empty) and a mask of cells that hold text that is not a number."""
    if pd.api.types.is_bool_dtype(col):
        return np.full(len(col), np.nan), _present(col)
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.array(values, dtype=np.float64, copy=True)
    if col.dtype == object:  # booleans in a JSON column are not numbers
        is_bool = col.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
        values[is_bool] = np.nan
    bad = _present(col) & np.isnan(values)
    return values, bad


def _timestamps(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds (NaN where unusable) and a mask of cells that are not a time."""
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
    with np.errstate(invalid="ignore"):
        numbers = np.where(np.abs(numbers) > 1e11, numbers / 1000.0, numbers)
    return numbers, text


def _raw_row(df: pd.DataFrame, k: int) -> str:
    row = {str(c): v for c, v in df.iloc[k].items() if not (isinstance(v, float) and v != v)}
    try:
        text = json.dumps(row, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(row)
    return text[:_MAX_RAW]


@dataclass(frozen=True)
class _Validated:
    ids: np.ndarray  # object array of str, good rows in file order
    cols: dict[str, np.ndarray]  # SI field -> float64, good rows in file order
    good_rows: np.ndarray  # 0-based file positions of the good rows
    rejects: list[tuple[int, Reject]]  # (0-based file position, reject)


def _validate(df: pd.DataFrame) -> _Validated:
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(have: {', '.join(map(str, df.columns))})",
            "columns",
        )
    df = df.reset_index(drop=True)
    n = len(df)
    reason = np.full(n, None, dtype=object)
    flagged = np.zeros(n, dtype=bool)

    def flag(mask: np.ndarray, text: Callable[[int], str]) -> None:
        new = mask & ~flagged
        for k in np.flatnonzero(new):
            reason[k] = text(int(k))
        flagged[new] = True

    ids_raw = df["icao24"]
    id_text = ids_raw.astype(str).fillna("").str.strip().str.lower()
    ids = id_text.to_numpy(dtype=object)
    no_id = ~_present(ids_raw)
    flag(no_id, lambda k: "icao24: missing aircraft address")
    too_long = id_text.str.len().to_numpy(dtype=np.int64) > _MAX_ID_LEN
    flag(too_long & ~no_id, lambda k: f"icao24: longer than {_MAX_ID_LEN} characters")

    t, bad_t = _timestamps(df["timestamp"])
    flag(bad_t, lambda k: f"timestamp: not a time: {str(df['timestamp'].iloc[k])[:40]!r}")
    flag(~np.isfinite(t), lambda k: "timestamp: missing")

    cols: dict[str, np.ndarray] = {"t": t}
    for name, (field, factor, lo, hi) in _NUMERIC.items():
        if name not in df.columns:
            cols[field] = np.full(n, np.nan)
            continue
        values, bad = _numeric(df[name])
        flag(bad, lambda k, c=name: f"{c}: not a number: {str(df[c].iloc[k])[:40]!r}")
        with np.errstate(invalid="ignore"):
            out = np.isinf(values)
            if lo is not None:
                out |= values < lo
            if hi is not None:
                out |= values > hi
        flag(
            out,
            lambda k, c=name, lo=lo, hi=hi, v=values: f"{c}: {v[k]!r} outside [{lo}, {hi}]",
        )
        if name in _REQUIRED:
            flag(np.isnan(values), lambda k, c=name: f"{c}: missing")
        cols[field] = values * factor if factor != 1.0 else values

    bad_rows = np.flatnonzero(flagged)
    good = ~flagged
    rejects = [(int(k), Reject(int(k) + 1, _raw_row(df, int(k)), str(reason[k]))) for k in bad_rows]
    return _Validated(
        ids=ids[good],
        cols={f: np.ascontiguousarray(c[good]) for f, c in cols.items()},
        good_rows=np.flatnonzero(good),
        rejects=rejects,
    )


def _epoch(value: float | datetime | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return ensure_utc(value, name).timestamp()
    x = float(value)
    if not math.isfinite(x):
        raise InvalidInput(f"must be finite, got {value!r}", name)
    return x


@dataclass(frozen=True)
class ReplayProgress:
    """Where a replay stands, passed to the ``progress`` callback after each batch.

    ``rows_done`` of ``rows_total`` good rows released so far, ``rejected`` rows rejected so far,
    ``batches`` released, ``recording_time`` the recording time (epoch s) reached, between
    ``recording_start`` and ``recording_end``.
    """

    rows_done: int
    rows_total: int
    rejected: int
    batches: int
    recording_time: float
    recording_start: float
    recording_end: float


ProgressCallback = Callable[[ReplayProgress], None]


class TableReplay:
    """A :class:`~sharedsky.feeds.Feed` that replays a recorded table (see the module docstring).

    Parameters:
        source: path of the recording, or a DataFrame already read (e.g. one party's rows).
        speed: replay speed, a multiple of real time (> 0); ``math.inf`` releases every slice at
            once, without waiting.
        start: recording time (UTC datetime or epoch s) to start from; earlier rows are skipped
            (not rejected). Default: the first row.
        progress: called with a :class:`ReplayProgress` after each batch is prepared.
        step_s: recording seconds per batch (1 s).
        retime: stamp states with their replay time on the wall clock (see module doc); False
            keeps the recorded times.
        anchor: wall-clock time (epoch s) at which the replay's start is due; replays that share
            an anchor stay in step. Default: the moment iteration begins.
        name: the feed's label (default ``replay:<file name>``).
        clock: the wall clock (epoch seconds), replaceable in tests.

    Bad input of the whole file (unreadable, unknown format, missing required column) raises
    :class:`InvalidInput` here; bad rows become rejects. :meth:`stop` (thread-safe) ends
    :meth:`batches` early, waking any wait.
    """

    def __init__(
        self,
        source: str | Path | pd.DataFrame,
        speed: float = 1.0,
        start: float | datetime | None = None,
        progress: ProgressCallback | None = None,
        *,
        step_s: float = 1.0,
        retime: bool = True,
        anchor: float | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
            raise InvalidInput(f"must be a positive number (or inf), got {speed!r}", "speed")
        if not (math.isfinite(step_s) and step_s > 0):
            raise InvalidInput(f"must be a positive number of seconds, got {step_s!r}", "step_s")
        if isinstance(source, pd.DataFrame):
            frame = source
            label = name or "replay:table"
        else:
            frame = read_table(source)
            label = name or f"replay:{Path(source).name}"
        self.name: str = label
        self.speed = float(speed)
        self.step_s = float(step_s)
        self.retime = retime
        self.anchor = _epoch(anchor, "anchor")
        self._progress = progress
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._messages = 0
        self._decoded = 0
        self._rejected = 0
        self._last_read: float | None = None
        self._running = False
        self._prepare(_validate(frame), _epoch(start, "start"))

    # -- preparation ----------------------------------------------------------------------------
    def _prepare(self, v: _Validated, start: float | None) -> None:
        t = v.cols["t"]
        order = np.argsort(t, kind="stable")
        if start is None:
            start = float(t[order[0]]) if t.size else 0.0
        keep = order[t[order] >= start]
        self.recording_start = float(start)
        self.recording_end = float(t[keep[-1]]) if keep.size else float(start)
        self.rows_total = int(keep.size)
        self.tracks_total = int(np.unique(v.ids[keep]).size) if keep.size else 0
        self.rows_skipped = int(t.size - keep.size)
        self._ids = v.ids[keep]
        self._cols = {f: np.ascontiguousarray(c[keep]) for f, c in v.cols.items()}
        self._bins = np.floor((self._cols["t"] - start) / self.step_s).astype(np.int64)
        # Each reject rides with the nearest earlier good row of the file (bin 0 if none).
        file_bin = np.zeros(v.good_rows.size, dtype=np.int64)
        file_bin[:] = np.floor((v.cols["t"] - start) / self.step_s).clip(min=0)
        self._reject_bins: dict[int, list[Reject]] = {}
        for pos, rej in v.rejects:
            j = int(np.searchsorted(v.good_rows, pos)) - 1
            b = int(file_bin[j]) if j >= 0 else 0
            self._reject_bins.setdefault(b, []).append(rej)
        self.rejects_total = len(v.rejects)

    @property
    def duration_s(self) -> float:
        """Recording seconds covered by the replay."""
        return self.recording_end - self.recording_start

    # -- the Feed protocol ------------------------------------------------------------------------
    def batches(self) -> Iterator[TrackBatch]:
        """Yield one batch per time slice that holds rows or rejects, paced by ``speed``."""
        anchor = self.anchor if self.anchor is not None else self._clock()
        bins = self._bins
        slice_bins = np.unique(np.concatenate([bins, np.array(list(self._reject_bins), dtype=int)]))
        edges = np.searchsorted(bins, slice_bins, side="left")
        ends = np.searchsorted(bins, slice_bins, side="right")
        with self._lock:
            self._running = True
        done = rejected = count = 0
        try:
            for b, lo, hi in zip(slice_bins.tolist(), edges.tolist(), ends.tolist(), strict=True):
                if math.isfinite(self.speed):
                    due = anchor + (b + 1) * self.step_s / self.speed
                    wait = due - self._clock()
                    if wait > 0 and self._stop.wait(wait):
                        return
                if self._stop.is_set():
                    return
                batch = self._slice(lo, hi, anchor, self._reject_bins.get(b, ()))
                done += len(batch)
                rejected += len(batch.rejects)
                count += 1
                with self._lock:
                    self._messages += len(batch) + len(batch.rejects)
                    self._decoded += len(batch)
                    self._rejected += len(batch.rejects)
                    self._last_read = self._clock()
                if self._progress is not None:
                    self._progress(
                        ReplayProgress(
                            rows_done=done,
                            rows_total=self.rows_total,
                            rejected=rejected,
                            batches=count,
                            recording_time=min(
                                self.recording_start + (b + 1) * self.step_s, self.recording_end
                            ),
                            recording_start=self.recording_start,
                            recording_end=self.recording_end,
                        )
                    )
                yield batch
        finally:
            with self._lock:
                self._running = False

    def _slice(self, lo: int, hi: int, anchor: float, rejects: Any) -> TrackBatch:
        cols = {f: np.ascontiguousarray(c[lo:hi]) for f, c in self._cols.items()}
        if self.retime:
            rate = self.speed if math.isfinite(self.speed) else 1.0
            cols["t"] = anchor + (cols["t"] - self.recording_start) / rate
        n = hi - lo
        return TrackBatch(
            track_id=self._ids[lo:hi].copy(),
            **cols,
            pos_accuracy_m=np.full(n, np.nan),
            vel_accuracy_mps=np.full(n, np.nan),
            rejects=tuple(rejects),
        )

    def health(self) -> FeedHealth:
        """Counters so far; ``connected`` while :meth:`batches` is being iterated."""
        with self._lock:
            age = None if self._last_read is None else max(0.0, self._clock() - self._last_read)
            return FeedHealth(
                connected=self._running,
                messages=self._messages,
                decoded=self._decoded,
                rejected=self._rejected,
                last_message_age_s=age,
            )

    def stop(self) -> None:
        """End :meth:`batches` at the next slice (thread-safe; wakes a pending wait)."""
        self._stop.set()
