"""Geometry of sharedsky: spherical geodesy, volume validation and S2 cell coverings (pure
algorithms, no I/O).

The geodesy functions (:mod:`sharedsky.geo.geodesy`) load with the package; the S2 names
(:mod:`sharedsky.geo.cells`) load on first use, so that the conflict engine, which needs only
the geodesy, does not pay for the S2 library and the F3548 schemas at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sharedsky.geo.geodesy import destination, ecef, haversine_m, local_xy

if TYPE_CHECKING:
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
    "destination",
    "ecef",
    "haversine_m",
    "local_xy",
    "outline_area_km2",
    "parent_cells",
    "to_signed",
    "to_unsigned",
    "validate_altitudes",
    "validate_times",
]

_GEODESY = frozenset({"destination", "ecef", "haversine_m", "local_xy"})


def __getattr__(name: str) -> Any:
    if name in __all__ and name not in _GEODESY:
        from sharedsky.geo import cells

        value = getattr(cells, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
