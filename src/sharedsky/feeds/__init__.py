"""Feeds: sources of track batches (replays, decoders) behind one small protocol.

Each feed module turns its input into :class:`~sharedsky.model.tracks.TrackBatch` objects with
rejects; feeds never import the tactical engine, storage or services.
"""

from __future__ import annotations

from sharedsky.feeds.base import Feed, FeedHealth
from sharedsky.model.tracks import Reject, TrackBatch

__all__ = ["Feed", "FeedHealth", "Reject", "TrackBatch"]
