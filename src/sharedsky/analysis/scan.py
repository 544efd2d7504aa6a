"""Scan a recording of track states: detection at every time step, losses of separation merged
into episodes.

A recording is a :class:`~sharedsky.tactical.TrackStates` with many rows per track. At each step
time ``t`` (``start``, ``start + step_s``, ...) the scan takes the latest state of every track not
after ``t`` and not older than ``max_age_s``, runs
:func:`~sharedsky.tactical.detect_conflicts` with ``now = t`` (the engine extrapolates each state
to ``t``) and keeps the pairs already in loss of separation. Consecutive observations of the same
pair (no more than ``max_gap_s`` apart) form one :class:`LossEpisode`: each loss of separation is
reported once, with its first and last step in loss, and its closest approach over those steps
(the smallest horizontal distance, and the vertical separation at that moment).

Progress reaches the caller through a callback ``progress(done_steps, total_steps)``; this module
does no I/O and draws nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sharedsky.analysis.tables import complete_rows
from sharedsky.errors import InvalidInput
from sharedsky.geo import haversine_m
from sharedsky.tactical import DetectionParams, TrackStates, detect_conflicts
from sharedsky.units import EARTH_RADIUS_M

__all__ = [
    "DEFAULT_MERGE_GAP_S",
    "EPISODE_COLUMNS",
    "EpisodeMerger",
    "LossEpisode",
    "ScanResult",
    "current_separation",
    "scan",
]

#: Default longest interruption [s] of a loss of separation that still continues the episode.
DEFAULT_MERGE_GAP_S = 10.0

#: Columns of :meth:`ScanResult.to_frame`, in order.
EPISODE_COLUMNS: tuple[str, ...] = (
    "id_a",
    "id_b",
    "party_a",
    "party_b",
    "start",
    "end",
    "duration_s",
    "steps",
    "t_closest",
    "d_closest_m",
    "dalt_closest_m",
    "min_dalt_m",
)


@dataclass(frozen=True)
class LossEpisode:
    """One loss of separation between two tracks (``id_a < id_b``), times in epoch seconds.

    ``start`` and ``end`` are the first and last step times at which the pair was in loss (the
    true start lies after the previous step, the true end before the next). ``t_closest`` is the
    step with the smallest horizontal distance ``d_closest_m``; ``dalt_closest_m`` the absolute
    vertical separation then; ``min_dalt_m`` the smallest vertical separation of the episode.
    """

    id_a: str
    id_b: str
    party_a: str
    party_b: str
    start: float
    end: float
    steps: int
    t_closest: float
    d_closest_m: float
    dalt_closest_m: float
    min_dalt_m: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass
class _Open:
    party_a: str
    party_b: str
    start: float
    last: float
    steps: int
    t_closest: float
    d_closest_m: float
    dalt_closest_m: float
    min_dalt_m: float


class EpisodeMerger:
    """Merges per-step loss-of-separation observations into episodes.

    Feed steps in time order with :meth:`add_step`; a pair seen again within ``max_gap_s`` of its
    previous observation continues its episode, otherwise a new one starts. The pair is unordered:
    (a, b) and (b, a) are the same pair. :meth:`finish` closes all open episodes and returns every
    episode, ordered by start, then ids.
    """

    def __init__(self, max_gap_s: float) -> None:
        gap = float(max_gap_s)
        if not math.isfinite(gap) or gap < 0:
            raise InvalidInput("must be a finite non-negative number of seconds", "max_gap_s")
        self.max_gap_s = gap
        self._open: dict[tuple[str, str], _Open] = {}
        self._closed: list[LossEpisode] = []
        self._last_t = -math.inf

    def add_step(
        self,
        t: float,
        id_a: Iterable[Any],
        id_b: Iterable[Any],
        party_a: Iterable[Any],
        party_b: Iterable[Any],
        d_m: Iterable[float],
        dalt_m: Iterable[float],
    ) -> None:
        """Record the pairs in loss of separation at step time ``t`` (possibly none), with their
        horizontal distance and absolute vertical separation at ``t``."""
        t = float(t)
        if not math.isfinite(t):
            raise InvalidInput("must be finite", "t")
        if t < self._last_t:
            raise InvalidInput(f"steps must come in time order ({t} after {self._last_t})", "t")
        self._last_t = t
        for a, b, pa, pb, d, dz in zip(id_a, id_b, party_a, party_b, d_m, dalt_m, strict=True):
            a, b, pa, pb = str(a), str(b), str(pa), str(pb)
            if b < a:
                a, b, pa, pb = b, a, pb, pa
            d, dz = float(d), abs(float(dz))
            ep = self._open.get((a, b))
            if ep is not None and t - ep.last > self.max_gap_s:
                self._close((a, b), ep)
                ep = None
            if ep is None:
                self._open[(a, b)] = _Open(pa, pb, t, t, 1, t, d, dz, dz)
                continue
            if t > ep.last:
                ep.steps += 1
            ep.last = t
            if d < ep.d_closest_m:
                ep.t_closest, ep.d_closest_m, ep.dalt_closest_m = t, d, dz
            ep.min_dalt_m = min(ep.min_dalt_m, dz)
        for key in [k for k, ep in self._open.items() if t - ep.last > self.max_gap_s]:
            self._close(key, self._open[key])

    def _close(self, key: tuple[str, str], ep: _Open) -> None:
        del self._open[key]
        self._closed.append(
            LossEpisode(
                id_a=key[0],
                id_b=key[1],
                party_a=ep.party_a,
                party_b=ep.party_b,
                start=ep.start,
                end=ep.last,
                steps=ep.steps,
                t_closest=ep.t_closest,
                d_closest_m=ep.d_closest_m,
                dalt_closest_m=ep.dalt_closest_m,
                min_dalt_m=ep.min_dalt_m,
            )
        )

    @property
    def open_count(self) -> int:
        return len(self._open)

    def finish(self) -> list[LossEpisode]:
        for key in list(self._open):
            self._close(key, self._open[key])
        return sorted(self._closed, key=lambda e: (e.start, e.id_a, e.id_b))


@dataclass(frozen=True)
class ScanResult:
    """Episodes of a scan, and what the scan did: ``steps`` detections from ``start`` to ``end``
    (epoch s), ``conflict_observations`` pair-steps in predicted conflict,
    ``detection_s`` seconds spent inside the engine, ``skipped_rows`` incomplete rows of the
    recording that were not used."""

    episodes: list[LossEpisode]
    steps: int
    start: float
    end: float
    step_s: float
    conflict_observations: int
    detection_s: float
    skipped_rows: int = 0

    def to_frame(self) -> Any:
        """A pandas DataFrame with :data:`EPISODE_COLUMNS` (times in epoch seconds, SI)."""
        import pandas as pd

        rows = [
            {
                "id_a": e.id_a,
                "id_b": e.id_b,
                "party_a": e.party_a,
                "party_b": e.party_b,
                "start": e.start,
                "end": e.end,
                "duration_s": e.duration_s,
                "steps": e.steps,
                "t_closest": e.t_closest,
                "d_closest_m": e.d_closest_m,
                "dalt_closest_m": e.dalt_closest_m,
                "min_dalt_m": e.min_dalt_m,
            }
            for e in self.episodes
        ]
        return pd.DataFrame(rows, columns=list(EPISODE_COLUMNS))


def current_separation(
    states: TrackStates, a: np.ndarray, b: np.ndarray, now: float
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal great-circle distance [m] and absolute vertical separation [m] of the pairs
    (``a[k]``, ``b[k]``) (row indices of ``states``) at ``now``, each state moved linearly from
    its own time (a flat step of ``gs·age`` along its track: meant for ages of seconds)."""
    age = now - states.t
    trk = np.radians(states.trk_deg)
    lat0 = np.radians(states.lat)
    dn = states.gs_mps * age * np.cos(trk)
    de = states.gs_mps * age * np.sin(trk)
    lat = lat0 + dn / EARTH_RADIUS_M
    lon = np.radians(states.lon) + de / (EARTH_RADIUS_M * np.maximum(np.cos(lat0), 1e-9))
    alt = states.alt_m + states.vs_mps * age
    d = haversine_m(lat[a], lon[a], lat[b], lon[b], radians=True)
    return d, np.abs(alt[b] - alt[a])


def scan(
    recording: TrackStates,
    params: DetectionParams | None = None,
    *,
    step_s: float = 1.0,
    start: float | None = None,
    end: float | None = None,
    max_age_s: float | None = None,
    max_gap_s: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Run detection at every step of ``recording`` and merge losses of separation into episodes.

    ``start``/``end`` default to the first and last time of the recording; ``max_age_s`` (default:
    ``params.quality.max_age_s``) drops tracks whose latest state is older than that at a step;
    ``max_gap_s`` (default: the larger of ``step_s`` and :data:`DEFAULT_MERGE_GAP_S`) is the
    longest time between two observations of a pair in loss that still continues one episode, so
    that a pair flickering across the minimum through noisy reports is one loss, not several.
    Incomplete rows (see :func:`~sharedsky.analysis.tables.complete_rows`) are skipped and counted
    in :attr:`ScanResult.skipped_rows`. ``progress(done, total)`` is called after each step.
    """
    params = params or DetectionParams()
    step = float(step_s)
    if not math.isfinite(step) or step <= 0:
        raise InvalidInput("must be a positive number of seconds", "step_s")
    age_limit = params.quality.max_age_s if max_age_s is None else float(max_age_s)
    if not math.isfinite(age_limit) or age_limit < 0:
        raise InvalidInput("must be a finite non-negative number of seconds", "max_age_s")
    merger = EpisodeMerger(max(step, DEFAULT_MERGE_GAP_S) if max_gap_s is None else max_gap_s)

    t_all = recording.t
    usable = complete_rows(recording)
    valid = np.flatnonzero(usable)
    if valid.size == 0:
        raise InvalidInput("the recording has no complete state", "recording")
    order = valid[np.argsort(t_all[valid], kind="stable")]
    t_sorted = t_all[order]
    first = float(t_sorted[0]) if start is None else float(start)
    last = float(t_sorted[-1]) if end is None else float(end)
    if not (math.isfinite(first) and math.isfinite(last)) or last < first:
        raise InvalidInput(f"end {last} is before start {first}", "end")
    total = math.floor((last - first) / step + 1e-9) + 1
    _, codes = np.unique(recording.track_id[order].astype(str), return_inverse=True)
    latest = np.full(int(codes.max()) + 1, -1, dtype=np.int64)  # position in ``order``
    pointer = 0
    observations = 0
    spent = 0.0
    for k in range(total):
        now = first + k * step
        stop = int(np.searchsorted(t_sorted, now, side="right"))
        if stop > pointer:
            pos = np.arange(pointer, stop, dtype=np.int64)
            np.maximum.at(latest, codes[pos], pos)  # rows sorted by time: max = latest
            pointer = stop
        seen = latest[latest >= 0]
        fresh = seen[now - t_sorted[seen] <= age_limit]
        if fresh.size >= 2:
            step_states = recording.select(order[np.sort(fresh)])
            t0 = time.perf_counter()
            found = detect_conflicts(step_states, replace(params, now=now))
            spent += time.perf_counter() - t0
            observations += int((~found.cannot_assess).sum())
            lost = np.flatnonzero(found.los)
            a, b = found.pairs[0, lost], found.pairs[1, lost]
            d, dz = current_separation(step_states, a, b, now)
            merger.add_step(
                now,
                step_states.track_id[a],
                step_states.track_id[b],
                step_states.party[a],
                step_states.party[b],
                d,
                dz,
            )
        else:
            merger.add_step(now, (), (), (), (), (), ())
        if progress is not None:
            progress(k + 1, total)
    return ScanResult(
        episodes=merger.finish(),
        steps=total,
        start=first,
        end=first + (total - 1) * step,
        step_s=step,
        conflict_observations=observations,
        detection_s=spent,
        skipped_rows=int(len(recording) - valid.size),
    )
