"""Need to know: which of the other parties' tracks a party may see.

A party sees all its own tracks, and another party's track only within ``visibility_m`` of one
of its own tracks, of one of its active plans or owned volumes, or of a line that concerns it.
Distances to tracks are chords between ECEF points (a chord is never longer than the arc, so
no track within the distance is missed); distances to shapes are taken in the tangent plane at
the shape's reference point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedsky.geo.geodesy import ecef, local_xy
from sharedsky.services.live.candidates import AreaSource
from sharedsky.services.live.config import ConfiguredLine, ConfiguredVolume
from sharedsky.tactical import ProtectedVolume

__all__ = ["OwnShape", "own_shapes", "visible_rows"]


@dataclass(frozen=True)
class OwnShape:
    """A volume or a line of a party, around which it sees the others' tracks."""

    volume: ProtectedVolume | None = None
    line: np.ndarray | None = None  # (n, 2) lat/lon degrees

    @property
    def reference(self) -> tuple[float, float]:
        if self.volume is not None:
            return self.volume.reference
        assert self.line is not None
        return float(self.line[0, 0]), float(self.line[0, 1])


def own_shapes(
    party: str,
    dss_areas: Iterable[AreaSource],
    volumes: Iterable[ConfiguredVolume],
    lines: Iterable[ConfiguredLine],
) -> list[OwnShape]:
    """The party's plan volumes and owned volumes, and the lines that concern it."""
    shapes = [OwnShape(volume=src.volume) for src in dss_areas if src.owner == party]
    shapes += [OwnShape(volume=cv.volume) for cv in volumes if cv.owner == party]
    shapes += [OwnShape(line=np.asarray(cl.line.points)) for cl in lines]
    return shapes


def _geometry(shape: OwnShape, lat0: float, lon0: float) -> Any:
    import shapely

    if shape.line is not None:
        lx, ly = local_xy(shape.line[:, 0], shape.line[:, 1], lat0, lon0)
        return shapely.linestrings(lx, ly)
    vol = shape.volume
    assert vol is not None
    if vol.center is not None:
        return shapely.buffer(shapely.points(0.0, 0.0), float(vol.radius_m or 0.0), 64)
    rx, ry = vol.local_ring()
    return shapely.polygons(np.column_stack([rx, ry]))


def visible_rows(
    lat: np.ndarray,
    lon: np.ndarray,
    own: np.ndarray,
    shapes: Sequence[OwnShape],
    visibility_m: float,
) -> np.ndarray:
    """Boolean mask of the rows a party may see: its ``own`` rows, and the others within
    ``visibility_m`` of an own row or of one of ``shapes``."""
    import shapely
    from scipy.spatial import cKDTree

    near = np.zeros(own.shape[0], dtype=bool)
    others = np.flatnonzero(~own)
    if others.size:
        olat, olon = lat[others], lon[others]
        mine = np.flatnonzero(own)
        if mine.size:
            tree = cKDTree(ecef(lat[mine], lon[mine]))
            d, _ = tree.query(ecef(olat, olon), k=1, distance_upper_bound=visibility_m)
            near[others[np.isfinite(d)]] = True
        for shape in shapes:
            rest = np.flatnonzero(~near[others])
            if rest.size == 0:
                break
            lat0, lon0 = shape.reference
            x, y = local_xy(olat[rest], olon[rest], lat0, lon0)
            geom = _geometry(shape, lat0, lon0)
            hit = shapely.distance(shapely.points(x, y), geom) <= visibility_m
            near[others[rest[hit]]] = True
    return own | near
