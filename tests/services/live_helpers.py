"""Builders for the live service tests: states on a line at a known speed, a fake clock."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from sharedsky.feeds import FeedHealth
from sharedsky.model.tracks import TrackBatch

T0 = 1_795_608_000.0  # 2026-11-25T12:00:00Z, the strategic tests' T0
M_PER_DEG = 6_371_000.0 * math.pi / 180.0


class Clock:
    """A settable clock returning epoch seconds."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def east_of(lon: float, lat: float, metres: float) -> float:
    """Longitude ``metres`` east of ``lon`` along the parallel ``lat``."""
    return lon + metres / (M_PER_DEG * math.cos(math.radians(lat)))


def state(
    tid: str,
    t: float,
    lat: float,
    lon: float,
    *,
    alt: float = 3000.0,
    gs: float = 200.0,
    trk: float = 90.0,
    vs: float = 0.0,
) -> dict[str, Any]:
    return {
        "track_id": tid,
        "t": t,
        "lat": lat,
        "lon": lon,
        "alt_m": alt,
        "gs_mps": gs,
        "trk_deg": trk,
        "vs_mps": vs,
    }


def batch(*records: dict[str, Any]) -> TrackBatch:
    return TrackBatch.from_records(list(records))


def head_on(t: float, gap_m: float, *, lat: float = 45.0, lon: float = 5.0) -> tuple[dict, dict]:
    """Alpha's A1 flying east and bravo's B1 flying west, ``gap_m`` apart, centred on ``lon``,
    same level, 200 m/s each: they meet after ``gap_m / 400`` s."""
    a = state("A1", t, lat, east_of(lon, lat, -gap_m / 2), trk=90.0)
    b = state("B1", t, lat, east_of(lon, lat, gap_m / 2), trk=270.0)
    return a, b


class ListFeed:
    """A real, minimal feed: yields the batches it was given, then ends."""

    def __init__(self, name: str, batches: list[TrackBatch]) -> None:
        self.name = name
        self._batches = batches
        self._done = 0

    def batches(self) -> Iterator[TrackBatch]:
        for b in self._batches:
            self._done += 1
            yield b

    def health(self) -> FeedHealth:
        n = sum(len(b) for b in self._batches[: self._done])
        return FeedHealth(self._done < len(self._batches), self._done, n, 0, None)
