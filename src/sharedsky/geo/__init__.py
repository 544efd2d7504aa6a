"""Geometry of sharedsky: volume validation and S2 cell coverings (pure algorithms, no I/O)."""

from __future__ import annotations

from sharedsky.geo.cells import (
    CELL_LEVEL,
    LOCK_LEVEL,
    MAX_ALTITUDE_M,
    MAX_AREA_KM2,
    MAX_CONSTRAINT_AREA_KM2,
    MAX_VERTICES,
    MIN_ALTITUDE_M,
    cover_outline,
    cover_volume,
    cover_volumes,
    outline_area_km2,
    parent_cells,
    to_signed,
    to_unsigned,
    validate_altitudes,
    validate_times,
)

__all__ = [
    "CELL_LEVEL",
    "LOCK_LEVEL",
    "MAX_ALTITUDE_M",
    "MAX_AREA_KM2",
    "MAX_CONSTRAINT_AREA_KM2",
    "MAX_VERTICES",
    "MIN_ALTITUDE_M",
    "cover_outline",
    "cover_volume",
    "cover_volumes",
    "outline_area_km2",
    "parent_cells",
    "to_signed",
    "to_unsigned",
    "validate_altitudes",
    "validate_times",
]
