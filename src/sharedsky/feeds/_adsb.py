"""Pieces shared by the ADS-B decoders (SBS-1, Beast, readsb): output rows and the bad-input policy.

Private to :mod:`sharedsky.feeds`; the decoders' public surface is in their own modules.
"""

from __future__ import annotations

import logging

import numpy as np

from sharedsky.errors import InvalidInput
from sharedsky.feeds.decoding import DecoderCounters, RateLimitedLog
from sharedsky.model.tracks import Reject, TrackBatch

FT_TO_M = 0.3048
KT_TO_MPS = 1852.0 / 3600.0
FPM_TO_MPS = 0.3048 / 60.0
NAN = float("nan")

ON_INVALID = ("collect", "skip", "raise")


def check_on_invalid(on_invalid: str) -> str:
    if on_invalid not in ON_INVALID:
        raise InvalidInput(f"must be one of {ON_INVALID}, got {on_invalid!r}", "on_invalid")
    return on_invalid


class Rows:
    """Track states accumulated during one ``feed`` call, turned into one :class:`TrackBatch`.

    Columns are plain lists (appending is the hot path); units are SI already.
    """

    __slots__ = ("alt", "gs", "ids", "lat", "lon", "rejects", "t", "trk", "vs")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.t: list[float] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.alt: list[float] = []
        self.gs: list[float] = []
        self.trk: list[float] = []
        self.vs: list[float] = []
        self.rejects: list[Reject] = []

    def batch(self) -> TrackBatch:
        if not self.ids:
            return TrackBatch.empty(self.rejects)
        ids = np.array(self.ids, dtype=object)
        return TrackBatch.from_arrays(
            ids,
            np.array(self.t, dtype=np.float64),
            np.array(self.lat, dtype=np.float64),
            np.array(self.lon, dtype=np.float64),
            alt_m=np.array(self.alt, dtype=np.float64),
            gs_mps=np.array(self.gs, dtype=np.float64),
            trk_deg=np.array(self.trk, dtype=np.float64),
            vs_mps=np.array(self.vs, dtype=np.float64),
            rejects=self.rejects,
        )


class BadInput:
    """Applies a decoder's ``on_invalid`` policy to one malformed message.

    ``collect`` (default) keeps a :class:`Reject` in the batch, ``skip`` only counts it, ``raise``
    raises :class:`~sharedsky.errors.InvalidInput` (for offline checks of a file; never on a live
    feed). Every bad message is counted as rejected and logged at a limited rate.
    """

    __slots__ = ("_log", "counters", "fmt", "policy")

    def __init__(
        self, fmt: str, policy: str, counters: DecoderCounters, logger: logging.Logger
    ) -> None:
        self.fmt = fmt
        self.policy = check_on_invalid(policy)
        self.counters = counters
        self._log = RateLimitedLog(logger)

    def __call__(self, rows: Rows, index: int, raw: str, reason: str) -> None:
        self.counters.add(rejected=1)
        self._log.warning("%s: message %d rejected: %s", self.fmt, index, reason)
        if self.policy == "collect":
            rows.rejects.append(Reject(index, raw[:300], reason))
        elif self.policy == "raise":
            raise InvalidInput(f"message {index}: {reason}", self.fmt)
