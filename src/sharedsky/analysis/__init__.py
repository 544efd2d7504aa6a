"""Batch analysis of recordings: reading state tables, scanning a recording for losses of
separation (episodes with start, end and closest approach)."""

from __future__ import annotations

from sharedsky.analysis.scan import (
    DEFAULT_MERGE_GAP_S,
    EPISODE_COLUMNS,
    EpisodeMerger,
    LossEpisode,
    ScanResult,
    current_separation,
    scan,
)
from sharedsky.analysis.tables import (
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    complete_rows,
    read_states,
    read_table,
    states_from_table,
    write_table,
)

__all__ = [
    "DEFAULT_MERGE_GAP_S",
    "EPISODE_COLUMNS",
    "NUMERIC_COLUMNS",
    "REQUIRED_COLUMNS",
    "EpisodeMerger",
    "LossEpisode",
    "ScanResult",
    "complete_rows",
    "current_separation",
    "read_states",
    "read_table",
    "scan",
    "states_from_table",
    "write_table",
]
