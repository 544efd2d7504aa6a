"""Tactical commands: ``sharedsky detect`` (one detection on a table of states) and
``sharedsky scan`` (every time step of a recording, losses of separation as episodes).

Input tables use the OpenSky / ``traffic`` column names and units (see
:mod:`sharedsky.analysis.tables`); CSV, Parquet, JSON (records, gzip allowed) and JSON lines are
read, the format chosen by the file name. Output goes to ``--out`` (CSV, Parquet or JSON by the
file name) or, without it, as CSV to standard output; counts and timings go to standard error.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from sharedsky.analysis import complete_rows, read_states, scan, write_table
from sharedsky.cli import app
from sharedsky.errors import InvalidInput
from sharedsky.tactical import (
    DataQuality,
    DetectionParams,
    LevelOccupancy,
    MinimaTable,
    SeparationMinima,
    TrackStates,
    detect_conflicts,
)
from sharedsky.units import FT_TO_M, M_TO_FT, NM_TO_M, epoch_to_iso

__all__ = ["detect_command", "scan_command"]

_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

#: Flight level above which the higher vertical minimum applies (RVSM: above FL410).
_RVSM_TOP_M = 41_000.0 * FT_TO_M

States = Annotated[
    Path,
    typer.Argument(
        help="Table of states: .csv, .parquet, .json/.json.gz (records) or .jsonl, with columns "
        "timestamp, icao24, latitude, longitude, altitude (ft), groundspeed (kt), track (deg), "
        "vertical_rate (ft/min), optional callsign and party.",
        show_default=False,
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Output file; format from the extension (.csv, .parquet, .json, .json.gz, .jsonl). "
        "Default: CSV on standard output.",
    ),
]
HorizontalNm = Annotated[
    float, typer.Option("--horizontal-nm", help="Horizontal separation minimum (NM).")
]
VerticalFt = Annotated[
    float, typer.Option("--vertical-ft", help="Vertical separation minimum up to FL410 (ft).")
]
VerticalHighFt = Annotated[
    float,
    typer.Option(
        "--vertical-ft-above-fl410",
        help="Vertical minimum when the higher aircraft of a pair is above FL410 (ft) (RVSM).",
    ),
]
Lookahead = Annotated[float, typer.Option("--lookahead", help="Look-ahead time (s).")]
AllPairs = Annotated[
    bool,
    typer.Option(
        "--all-pairs", help="Also pairs of the same party (default: only different parties)."
    ),
]
DefaultParty = Annotated[
    str | None,
    typer.Option(
        "--default-party",
        help="Party of rows without a 'party' column or value. Default: each aircraft is its own "
        "party (its icao24), so every pair of aircraft is checked.",
    ),
]
MaxAge = Annotated[
    float,
    typer.Option(
        "--max-age",
        help="States older than this at the detection time (s) cannot be assessed "
        "(detect: their pairs are listed as CANNOT_ASSESS; scan: they are left out).",
    ),
]
RawAltitudes = Annotated[
    bool,
    typer.Option(
        "--raw-altitudes",
        help="Use reported altitudes as they are. Default: level-occupancy tolerance, a level "
        "track (|vs| <= 300 ft/min) within 200 ft of a flight level counts as at that level.",
    ),
]


def _params(
    horizontal_nm: float,
    vertical_ft: float,
    vertical_high_ft: float,
    lookahead: float,
    all_pairs: bool,
    max_age: float,
    raw_altitudes: bool,
    now: float | None,
) -> DetectionParams:
    for name, value in (
        ("--horizontal-nm", horizontal_nm),
        ("--vertical-ft", vertical_ft),
        ("--vertical-ft-above-fl410", vertical_high_ft),
    ):
        if not (math.isfinite(value) and value > 0):
            raise InvalidInput(f"must be a positive number, got {value}", name)
    for name, value in (("--lookahead", lookahead), ("--max-age", max_age)):
        if not (math.isfinite(value) and value >= 0):
            raise InvalidInput(f"must be a non-negative number of seconds, got {value}", name)
    low = SeparationMinima(horizontal_nm * NM_TO_M, vertical_ft * FT_TO_M)
    high = SeparationMinima(horizontal_nm * NM_TO_M, vertical_high_ft * FT_TO_M)
    return DetectionParams(
        minima=MinimaTable.build(default=low, bands=[(_RVSM_TOP_M, None, high)]),
        lookahead_s=lookahead,
        all_pairs=all_pairs,
        now=now,
        levels=LevelOccupancy(enabled=not raw_altitudes),
        quality=DataQuality(max_age_s=max_age),
        on_invalid="flag",
    )


def _parse_time(text: str, name: str) -> float:
    """Epoch seconds from a number or an ISO 8601 time (a time without a zone means UTC)."""
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise InvalidInput(f"not a time: {text!r}", name)
        return number
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"not a time: {text!r} (use ISO 8601, e.g. 2021-10-07T13:00:00Z, or epoch seconds)",
            name,
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _warm_up() -> float:
    """Compile the engine's kernels on two tracks; returns the seconds it took."""
    tiny = TrackStates.from_arrays(
        ["a", "b"], ["p", "q"], [0.0, 0.0], [50.0, 50.01], [5.0, 5.0], [3000.0, 3000.0],
        [200.0, 200.0], [90.0, 270.0], [0.0, 0.0],
    )  # fmt: skip
    t0 = time.perf_counter()
    detect_conflicts(tiny, DetectionParams(now=0.0))
    return time.perf_counter() - t0


def _emit(frame: Any, out: Path | None) -> None:
    if out is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        write_table(frame, out)


def _load(path: Path, default_party: str | None) -> tuple[TrackStates, int]:
    states = read_states(path, default_party=default_party)
    complete = complete_rows(states)
    return states.select(complete), int(len(states) - complete.sum())


@app.command("detect")
def detect_command(
    states_path: States,
    out: Out = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Detection time (ISO 8601 UTC or epoch seconds): the latest state per aircraft "
            "not after it. Default: the latest time in the table.",
        ),
    ] = None,
    horizontal_nm: HorizontalNm = 5.0,
    vertical_ft: VerticalFt = 1000.0,
    vertical_high_ft: VerticalHighFt = 2000.0,
    lookahead: Lookahead = 300.0,
    all_pairs: AllPairs = False,
    default_party: DefaultParty = None,
    max_age: MaxAge = 30.0,
    drop_after: Annotated[
        float,
        typer.Option(
            "--drop-after",
            help="Aircraft whose latest state is older than this (s) at the detection time "
            "have left the picture and are not assessed; those between --max-age and this are "
            "reported as 'cannot assess'.",
            min=0.0,
        ),
    ] = 60.0,
    raw_altitudes: RawAltitudes = False,
) -> None:
    """Predict conflicts between the latest states of the aircraft in a table.

    Writes one row per pair of aircraft in conflict within the look-ahead (both ids and parties,
    alert level, t_in, t_out, t_cpa (s from the detection time), d_cpa (m and NM), vertical
    separation at t_cpa (m and ft), LoS flag) and the pairs that cannot be assessed because a state
    is too old. Rows lacking position, altitude or velocity are skipped (counted on stderr).
    """
    now = None if at is None else _parse_time(at, "--at")
    states, skipped = _load(states_path, default_party)
    if len(states) == 0:
        raise InvalidInput("no complete state (time, position, altitude, velocity)", "states")
    if now is not None and not (states.t <= now).any():
        raise InvalidInput(f"no state at or before {epoch_to_iso(now)}", "--at")
    latest = states.latest(now, max_age_s=drop_after)
    if len(latest) == 0:
        when = epoch_to_iso(now) if now is not None else "the latest time"
        raise InvalidInput(f"no aircraft reported within {drop_after:g} s before {when}", "--at")
    params = _params(
        horizontal_nm, vertical_ft, vertical_high_ft, lookahead, all_pairs, max_age,
        raw_altitudes, now if now is not None else float(latest.t.max()),
    )  # fmt: skip
    jit_s = _warm_up()
    t0 = time.perf_counter()
    found = detect_conflicts(latest, params)
    elapsed = time.perf_counter() - t0
    frame = found.to_frame(latest)
    frame.insert(0, "time", epoch_to_iso(found.now))
    frame.insert(frame.columns.get_loc("d_cpa_m") + 1, "d_cpa_nm", found.d_cpa_m / NM_TO_M)
    frame.insert(frame.columns.get_loc("dalt_cpa_m") + 1, "dalt_cpa_ft", found.dalt_cpa_m * M_TO_FT)
    _emit(frame, out)
    levels = {name: int((found.level == name).sum()) for name in ("WARNING", "CAUTION")}
    assessed = ~found.cannot_assess
    _err.print(
        f"{len(states)} complete rows ({skipped} incomplete skipped), {len(latest)} aircraft at "
        f"{epoch_to_iso(found.now)}; {len(found.stale)} states older than {max_age:g} s"
    )
    _err.print(
        f"{int(assessed.sum())} conflicts ({int(found.los.sum())} losses of separation, "
        f"{levels['WARNING']} WARNING, {levels['CAUTION']} CAUTION), "
        f"{int(found.cannot_assess.sum())} pairs cannot be assessed"
    )
    _err.print(
        f"detection time {elapsed * 1e3:.2f} ms (excluding I/O; "
        f"one-off kernel compilation {jit_s:.2f} s before it)"
    )
    if out is not None:
        _err.print(f"wrote {len(frame)} rows to {out}")


@app.command("scan")
def scan_command(
    recording: States,
    out: Out = None,
    step: Annotated[
        float, typer.Option("--step", help="Time between detections (s).", min=0.001)
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First step (ISO 8601 UTC or epoch s). Default: first state."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last step (ISO 8601 UTC or epoch s). Default: last state."),
    ] = None,
    merge_gap: Annotated[
        float | None,
        typer.Option(
            "--merge-gap",
            help="Longest time (s) between two steps in loss that still continues one loss of "
            "separation (noise at the minimum). Default: the larger of 10 s and one step.",
        ),
    ] = None,
    horizontal_nm: HorizontalNm = 5.0,
    vertical_ft: VerticalFt = 1000.0,
    vertical_high_ft: VerticalHighFt = 2000.0,
    lookahead: Lookahead = 300.0,
    all_pairs: AllPairs = False,
    default_party: DefaultParty = None,
    max_age: MaxAge = 30.0,
    raw_altitudes: RawAltitudes = False,
) -> None:
    """Run detection at every time step of a recording; write each loss of separation once.

    Each row is one episode: both ids and parties, start and end (first and last step in loss,
    UTC), its duration, and the closest approach (time, horizontal distance (m and NM), vertical
    separation then (m and ft)) and the smallest vertical separation of the episode.
    """
    first = None if start is None else _parse_time(start, "--start")
    last = None if end is None else _parse_time(end, "--end")
    params = _params(
        horizontal_nm, vertical_ft, vertical_high_ft, lookahead, all_pairs, max_age,
        raw_altitudes, None,
    )  # fmt: skip
    states, skipped = _load(recording, default_party)
    if len(states) == 0:
        raise InvalidInput("no complete state (time, position, altitude, velocity)", "states")
    jit_s = _warm_up()
    with Progress(
        TextColumn("scan"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps"),
        TimeRemainingColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = scan(
            states,
            params,
            step_s=step,
            start=first,
            end=last,
            max_age_s=max_age,
            max_gap_s=merge_gap,
            progress=progress,
        )
    frame = result.to_frame()
    for col in ("start", "end"):
        utc = [epoch_to_iso(t) for t in frame[col]]
        frame.insert(frame.columns.get_loc(col), f"{col}_utc", utc)
    frame.insert(
        frame.columns.get_loc("d_closest_m") + 1,
        "d_closest_nm",
        np.asarray(frame["d_closest_m"], dtype=float) / NM_TO_M,
    )
    frame.insert(
        frame.columns.get_loc("dalt_closest_m") + 1,
        "dalt_closest_ft",
        np.asarray(frame["dalt_closest_m"], dtype=float) * M_TO_FT,
    )
    _emit(frame, out)
    _err.print(
        f"{result.steps} steps of {step:g} s from {epoch_to_iso(result.start)} "
        f"to {epoch_to_iso(result.end)}; "
        f"{len(states)} complete rows ({skipped} incomplete skipped)"
    )
    _err.print(
        f"{len(result.episodes)} losses of separation; {result.conflict_observations} pair-steps "
        f"in predicted conflict"
    )
    _err.print(
        f"detection time {result.detection_s:.2f} s in total, "
        f"{result.detection_s / max(result.steps, 1) * 1e3:.2f} ms per step (excluding I/O; "
        f"one-off kernel compilation {jit_s:.2f} s before it)"
    )
    if out is not None:
        _err.print(f"wrote {len(frame)} rows to {out}")
