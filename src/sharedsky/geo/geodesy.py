"""Geodesy on a spherical Earth: distance, destination point, local plane, Earth-centred frame.

Every function takes numpy arrays (or scalars, broadcast together) and returns float64 arrays.

Units: latitudes, longitudes and bearings in degrees (WGS-84 coordinates, bearings clockwise
from true north), distances in metres. The Earth is a sphere of radius
:data:`~sharedsky.units.EARTH_RADIUS_M` (6 371 km), the same sphere the conflict engine uses;
distances on it differ from the WGS-84 ellipsoid's by up to about 0.5 %.

* :func:`haversine_m`: great-circle distance between two points.
* :func:`destination`: the point reached along a great circle from a start point, bearing and
  distance.
* :func:`local_xy`: an equirectangular plane around a reference point, ``x = R·Δλ·cos φ₀`` east
  and ``y = R·Δφ`` north, with Δλ wrapped to [−180°, 180°) so that points across the
  antimeridian land next to the reference point. Accurate for a few hundred kilometres away
  from the poles; ``y`` is exact along a meridian.
* :func:`ecef`: Earth-centred, Earth-fixed Cartesian coordinates on the sphere. The straight
  (chord) distance between two such points is never more than the great-circle (arc) distance,
  ``chord = 2R·sin(arc / 2R)``, so a chord search within ``d`` finds every point within an arc
  of ``d``.

The numba kernels of :mod:`sharedsky.tactical` repeat the destination and ECEF formulas inline
(a compiled kernel cannot call numpy code); they name the function here they mirror.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sharedsky.units import EARTH_RADIUS_M

__all__ = ["destination", "ecef", "haversine_m", "local_xy"]


def haversine_m(
    lat1: Any, lon1: Any, lat2: Any, lon2: Any, *, radians: bool = False
) -> np.ndarray:
    """Great-circle distance [m] between points 1 and 2 (haversine formula).

    Parameters:
        lat1, lon1, lat2, lon2: coordinates in degrees (in radians with ``radians=True``),
            broadcast together; longitudes need not be wrapped.
        radians: the coordinates are given in radians (no conversion, the same numbers).

    Returns:
        The distance in metres, in ``[0, π·R]``; NaN where an input is NaN.
    """
    if radians:
        p1, p2 = np.asarray(lat1, dtype=np.float64), np.asarray(lat2, dtype=np.float64)
        l1, l2 = np.asarray(lon1, dtype=np.float64), np.asarray(lon2, dtype=np.float64)
    else:
        p1, p2 = np.radians(lat1), np.radians(lat2)
        l1, l2 = np.radians(lon1), np.radians(lon2)
    dlat = p2 - p1
    dlon = l2 - l1
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def destination(
    lat: Any, lon: Any, bearing_deg: Any, distance_m: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The point ``distance_m`` metres from (``lat``, ``lon``) along the great circle that
    leaves it at ``bearing_deg`` (degrees clockwise from true north).

    Parameters:
        lat, lon: start points in degrees.
        bearing_deg: initial bearings in degrees.
        distance_m: distances along the great circle in metres (negative: backwards).

    Returns:
        ``(lat, lon)`` of the destinations in degrees, the longitude wrapped to [−180°, 180°).
        From a pole itself, where a bearing means nothing, the latitude is right and the point
        lies on the meridian ``lon + 90°``.
    """
    p = np.radians(lat)
    lam = np.radians(lon)
    th = np.radians(bearing_deg)
    d = np.asarray(distance_m) / EARTH_RADIUS_M
    p2 = np.arcsin(np.clip(np.sin(p) * np.cos(d) + np.cos(p) * np.sin(d) * np.cos(th), -1, 1))
    l2 = lam + np.arctan2(np.sin(th) * np.sin(d) * np.cos(p), np.cos(d) - np.sin(p) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0


def local_xy(lat: Any, lon: Any, lat0: Any, lon0: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points in the local plane of the reference point (``lat0``, ``lon0``): ``x`` metres east,
    ``y`` metres north (see the module docstring).

    Parameters:
        lat, lon: points in degrees.
        lat0, lon0: the reference point in degrees: scalars (one plane) or arrays broadcast
            with the points (one plane per point).

    Returns:
        ``(x, y)`` in metres. The longitude difference is wrapped to [−180°, 180°), so a point
        at 179.9° E is 0.2° west of a reference at 179.9° W, not 359.8° east.
    """
    dlon = (np.asarray(lon) - lon0 + 180.0) % 360.0 - 180.0
    if np.ndim(lat0) == 0:
        cos0: Any = math.cos(math.radians(float(lat0)))
    else:
        cos0 = np.cos(np.radians(lat0))
    x = EARTH_RADIUS_M * np.radians(dlon) * cos0
    y = EARTH_RADIUS_M * np.radians(np.asarray(lat) - lat0)
    return x, y


def ecef(lat: Any, lon: Any) -> np.ndarray:
    """Earth-centred, Earth-fixed coordinates [m] of points on the sphere.

    Parameters:
        lat, lon: points in degrees (1-D arrays or scalars).

    Returns:
        An ``(n, 3)`` float64 array of ``x`` (towards 0° N 0° E), ``y`` (towards 0° N 90° E) and
        ``z`` (towards the North Pole), each row of length ``R``.
    """
    p, lam = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack(
        [np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)]
    )
