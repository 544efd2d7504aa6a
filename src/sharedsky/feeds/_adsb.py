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

    ``ids`` holds the track ids and ``vals`` one ``(t, lat, lon, alt_m, gs_mps, trk_deg,
    vs_mps)`` tuple per state (appending one tuple is the hot path); units are SI already.
    """

    __slots__ = ("ids", "rejects", "vals")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.vals: list[tuple[float, float, float, float, float, float, float]] = []
        self.rejects: list[Reject] = []

    def batch(self) -> TrackBatch:
        if not self.ids:
            return TrackBatch.empty(self.rejects)
        cols = np.ascontiguousarray(np.array(self.vals, dtype=np.float64).T)
        return TrackBatch.from_arrays(
            np.array(self.ids, dtype=object),
            cols[0],
            cols[1],
            cols[2],
            alt_m=cols[3],
            gs_mps=cols[4],
            trk_deg=cols[5],
            vs_mps=cols[6],
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
