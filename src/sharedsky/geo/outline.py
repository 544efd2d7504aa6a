"""Outlines of S2 cell sets: what the DSS knows of a volume, as polygons.

The DSS keeps no precise geometry, only the level-13 S2 cells covering each volume. To alert on a
track approaching a plan or hazard volume the live service needs shapes: :func:`cells_outline`
returns the union of the cells as polygons, each given by its outer ring (holes are filled).
Because the covering contains the original outline and filling holes only adds area, the result
is conservative: it contains the original volume, never less (a cell is about 1 km across, so
the shape is at most about 1 km larger than the filed outline).

Longitudes are unwrapped relative to the first cell, so a set of cells across the antimeridian
gives one continuous ring (longitudes may then leave [-180, 180]; the tactical geometry wraps
them).
"""

from __future__ import annotations

from collections.abc import Iterable

import s2geometry as s2
import shapely
from shapely.geometry import Polygon as ShapelyPolygon

from sharedsky.geo.cells import to_unsigned

__all__ = ["cells_outline"]


def cells_outline(cells: Iterable[int]) -> list[list[tuple[float, float]]]:
    """Outer rings ``[(lat, lon), ...]`` (not closed) of the union of signed S2 cell ids."""
    polys: list[ShapelyPolygon] = []
    ref_lon: float | None = None
    for cell in cells:
        c = s2.S2Cell(s2.S2CellId(to_unsigned(int(cell))))
        ring = []
        for k in range(4):
            ll = s2.S2LatLng(c.GetVertex(k))
            lat, lon = ll.lat().degrees(), ll.lng().degrees()
            if ref_lon is None:
                ref_lon = lon
            lon = ref_lon + ((lon - ref_lon + 180.0) % 360.0 - 180.0)
            ring.append((lon, lat))
        polys.append(ShapelyPolygon(ring))
    if not polys:
        return []
    union = shapely.union_all(polys)
    # cells share edges exactly, but vertices computed for neighbours may differ in the last
    # bits: close hairline gaps without growing the shape by more than a micro-degree
    union = shapely.buffer(union, 1e-9, join_style="mitre")
    parts = list(getattr(union, "geoms", [union]))
    out = []
    for part in parts:
        if part.is_empty:
            continue
        ext = shapely.simplify(ShapelyPolygon(part.exterior), 0.0)
        coords = list(ext.exterior.coords)[:-1]
        out.append([(lat, lon) for lon, lat in coords])
    return out
