"""Replay of a recorded table of track states as a feed (:class:`TableReplay`).

A recording is a table in the OpenSky / ``traffic`` naming and units, one row per report:
``timestamp`` (epoch seconds, epoch milliseconds as ``traffic``'s JSON stores them, any number
above 1e11 being taken as milliseconds, or ISO 8601 text, a time without a zone meaning UTC),
``icao24`` (the track id, lower-cased), ``latitude``, ``longitude`` [deg], ``altitude`` [ft],
``groundspeed`` [kt], ``track`` [deg], ``vertical_rate`` [ft/min]; other columns (``callsign``,
``squawk``...) are ignored. ``timestamp``, ``icao24``, ``latitude`` and ``longitude`` are
required columns; an absent kinematic column is unknown (NaN) on every row. Files are CSV,
Parquet, JSON records (as pandas and ``traffic`` write them, gzip allowed) or JSON lines, the
format chosen by the file name (:func:`read_table`). The rows are checked and converted by
:func:`sharedsky.model.traffic_table.read_traffic_table` (``on_invalid="collect"``).

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
from sharedsky.model.traffic_table import TrafficTable, read_traffic_table
from sharedsky.units import ensure_utc

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
        self._prepare(read_traffic_table(frame, on_invalid="collect"), _epoch(start, "start"))

    # -- preparation ----------------------------------------------------------------------------
    def _prepare(self, v: TrafficTable, start: float | None) -> None:
        t = v.columns["t"]
        order = np.argsort(t, kind="stable")
        if start is None:
            start = float(t[order[0]]) if t.size else 0.0
        keep = order[t[order] >= start]
        self.recording_start = float(start)
        self.recording_end = float(t[keep[-1]]) if keep.size else float(start)
        self.rows_total = int(keep.size)
        self.tracks_total = int(np.unique(v.track_id[keep]).size) if keep.size else 0
        self.rows_skipped = int(t.size - keep.size)
        self._ids = v.track_id[keep]
        self._cols = {f: np.ascontiguousarray(c[keep]) for f, c in v.columns.items()}
        self._bins = np.floor((self._cols["t"] - start) / self.step_s).astype(np.int64)
        # Each reject rides with the nearest earlier good row of the file (bin 0 if none).
        file_bin = np.zeros(v.rows.size, dtype=np.int64)
        file_bin[:] = np.floor((v.columns["t"] - start) / self.step_s).clip(min=0)
        self._reject_bins: dict[int, list[Reject]] = {}
        for rej in v.rejects:
            pos = rej.index_or_line - 1  # rejects count rows from 1
            j = int(np.searchsorted(v.rows, pos)) - 1
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
