"""Validation of 4D volumes and their S2 cell coverings (the DSS's spatial index).

The DSS keeps no precise geometry (F3548 DSS0010/DSS0040): an outline is reduced to the set of
S2 cells of level :data:`CELL_LEVEL` that cover it, and two volumes "intersect" when they share
a cell and their altitude and time ranges overlap. That gives false positives, never false
negatives.

* **Polygons** have at least three vertices, none repeated, edges (great-circle arcs) that do not
  cross; either winding is accepted and the one enclosing the smaller area is meant.
  A zero-area polygon (all vertices on one great circle) is covered along its edges.
* **Circles** are covered as an S2 cap (the exact spherical disc of radius ``radius_m`` on a
  sphere of radius :data:`~sharedsky.units.EARTH_RADIUS_M`), not an inscribed polygon: the
  covering then never misses a cell the circle touches.
* **Area limit**: each outline may enclose at most ``max_area_km2`` (default
  :data:`MAX_AREA_KM2`); larger ones raise :class:`~sharedsky.errors.AreaTooLarge`.
* **Altitudes** lie in :data:`MIN_ALTITUDE_M`..:data:`MAX_ALTITUDE_M` (W84 metres).

Cell ids are S2's unsigned 64-bit ids reinterpreted as signed 64-bit integers (what SQL
``BIGINT`` holds); :func:`to_signed` and :func:`to_unsigned` convert. Errors are
:class:`~sharedsky.errors.InvalidInput` naming the field, never anything else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

import s2geometry as s2
from uas_standards.astm.f3548.v21 import constants as f3548

from sharedsky.errors import AreaTooLarge, InvalidInput
from sharedsky.model.strategic import Circle, LatLng, Polygon, Volume4D
from sharedsky.units import EARTH_RADIUS_M

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

CELL_LEVEL = 13
"""S2 level of the stored covering (about 1 km² per cell), as in the reference DSS."""

LOCK_LEVEL = 10
"""S2 level of the coarse cells on which writers serialise (about 80 km² per cell)."""

MAX_AREA_KM2 = 2500.0
"""Largest area of one outline of an intent, a subscription or a search."""

MAX_CONSTRAINT_AREA_KM2 = float(f3548.CstrMaxAreaKm2)
"""Largest area of one outline of a constraint (F3548 ``CstrMaxAreaKm2``)."""

MAX_VERTICES = int(f3548.OiMaxVertices)
"""Most vertices of one polygon (F3548 ``OiMaxVertices``)."""

MIN_ALTITUDE_M = -8000.0
MAX_ALTITUDE_M = 100000.0

_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1
_STERADIAN_KM2 = (EARTH_RADIUS_M / 1000.0) ** 2


def to_signed(cell_id: int) -> int:
    """An unsigned 64-bit S2 cell id as the signed 64-bit integer with the same bits."""
    return cell_id - _U64 if cell_id > _I64_MAX else cell_id


def to_unsigned(cell_id: int) -> int:
    """Inverse of :func:`to_signed`."""
    return cell_id + _U64 if cell_id < 0 else cell_id


def _coverer() -> s2.S2RegionCoverer:
    coverer = s2.S2RegionCoverer()
    coverer.set_min_level(CELL_LEVEL)
    coverer.set_max_level(CELL_LEVEL)
    coverer.set_max_cells(1 << 30)
    return coverer


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("must be a number", field)
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput("must be a finite number", field)
    return number


def _point(p: object, field: str) -> s2.S2Point:
    if not isinstance(p, LatLng):
        raise InvalidInput("must be a point with lat and lng", field)
    lat = _number(p.lat, f"{field}.lat")
    lng = _number(p.lng, f"{field}.lng")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"latitude {lat} is outside -90..90", f"{field}.lat")
    if not -180.0 <= lng <= 180.0:
        raise InvalidInput(f"longitude {lng} is outside -180..180", f"{field}.lng")
    return s2.S2LatLng.FromDegrees(lat, lng).ToPoint()


def _polygon_loop(polygon: Polygon, field: str) -> s2.S2Loop:
    vfield = f"{field}.vertices"
    vertices = polygon.vertices
    if not isinstance(vertices, tuple | list):
        raise InvalidInput("must be a list of points", vfield)
    if len(vertices) < 3:
        raise InvalidInput(f"a polygon needs at least 3 vertices, got {len(vertices)}", vfield)
    if len(vertices) > MAX_VERTICES:
        raise InvalidInput(f"a polygon may have at most {MAX_VERTICES} vertices", vfield)
    points = [_point(v, f"{vfield}[{i}]") for i, v in enumerate(vertices)]
    seen: dict[tuple[float, float, float], int] = {}
    for i, p in enumerate(points):
        key = (p.x(), p.y(), p.z())
        if key in seen:
            raise InvalidInput(f"vertex {i} repeats vertex {seen[key]}", vfield)
        seen[key] = i
    for i, p in enumerate(points):
        q = points[(i + 1) % len(points)]
        if p.x() == -q.x() and p.y() == -q.y() and p.z() == -q.z():
            raise InvalidInput(f"vertices {i} and {(i + 1) % len(points)} are antipodal", vfield)
    loop = s2.S2Loop()
    loop.Init(points)
    if not loop.IsValid():
        raise InvalidInput("edges must not cross and vertices must not repeat", vfield)
    loop.Normalize()
    return loop


def _circle_cap(circle: Circle, field: str) -> s2.S2Cap:
    center = _point(circle.center, f"{field}.center")
    radius = _number(circle.radius_m, f"{field}.radius.value")
    if radius <= 0.0:
        raise InvalidInput("radius must be greater than 0", f"{field}.radius.value")
    if radius > math.pi * EARTH_RADIUS_M:
        raise InvalidInput("radius exceeds half the Earth's circumference", f"{field}.radius.value")
    return s2.S2Cap(center, s2.S1Angle.Radians(radius / EARTH_RADIUS_M))


def _field_of(outline: object, field: str) -> str:
    return f"{field}.outline_circle" if isinstance(outline, Circle) else f"{field}.outline_polygon"


def _region(outline: Polygon | Circle, field: str) -> tuple[s2.S2Loop | s2.S2Cap, float]:
    if isinstance(outline, Polygon):
        loop = _polygon_loop(outline, field)
        return loop, loop.GetArea() * _STERADIAN_KM2
    if isinstance(outline, Circle):
        cap = _circle_cap(outline, field)
        r = outline.radius_m / EARTH_RADIUS_M
        return cap, 2.0 * math.pi * (1.0 - math.cos(r)) * _STERADIAN_KM2
    raise InvalidInput("needs exactly one of outline_polygon or outline_circle", field)


def outline_area_km2(outline: Polygon | Circle, field: str = "volume") -> float:
    """Area enclosed by a validated outline, km² (spherical Earth)."""
    return _region(outline, _field_of(outline, field))[1]


def cover_outline(
    outline: Polygon | Circle | None, field: str = "volume", max_area_km2: float = MAX_AREA_KM2
) -> frozenset[int]:
    """Validate ``outline`` and return its level-13 covering as signed 64-bit cell ids.

    ``field`` names the Volume3D in error messages (``extents[0].volume``); the polygon or circle
    suffix is added here.
    """
    if outline is None:
        raise InvalidInput("needs exactly one of outline_polygon or outline_circle", field)
    if _cacheable(outline):
        return _cover_outline_cached(outline, field, max_area_km2)
    return _cover_outline(outline, field, max_area_km2)


def _cacheable(outline: Polygon | Circle) -> bool:
    """Hashable, and every number a float (so that, e.g., ``True`` never finds the covering of
    ``1.0`` and skips its validation)."""
    if isinstance(outline, Polygon):
        return isinstance(outline.vertices, tuple) and all(
            type(v) is LatLng and type(v.lat) is float and type(v.lng) is float
            for v in outline.vertices
        )
    if isinstance(outline, Circle):
        c = outline.center
        return (
            type(c) is LatLng
            and type(c.lat) is float
            and type(c.lng) is float
            and type(outline.radius_m) is float
        )
    return False


def _cover_outline(outline: Polygon | Circle, field: str, max_area_km2: float) -> frozenset[int]:
    ofield = _field_of(outline, field)
    region, area = _region(outline, ofield)
    if area > max_area_km2:
        raise AreaTooLarge(
            f"area {area:.0f} km² exceeds the limit of {max_area_km2:.0f} km²", ofield
        )
    return frozenset(to_signed(c.id()) for c in _coverer().GetCovering(region))


# A USS queries an area and then writes the same extents (again after each 409), so recent
# coverings are kept: the covering is a pure function of the (frozen) outline. Failures raise
# and are not kept.
_cover_outline_cached = lru_cache(maxsize=4096)(_cover_outline)


def validate_altitudes(
    lower: float | None, upper: float | None, field: str = "volume", *, required: bool = False
) -> tuple[float | None, float | None]:
    """Check altitudes (W84 metres) are in range and ``lower <= upper``; return them as floats."""
    out: list[float | None] = []
    for name, value in (("altitude_lower", lower), ("altitude_upper", upper)):
        f = f"{field}.{name}"
        if value is None:
            if required:
                raise InvalidInput("is required", f)
            out.append(None)
            continue
        number = _number(value, f"{f}.value")
        if not MIN_ALTITUDE_M <= number <= MAX_ALTITUDE_M:
            raise InvalidInput(
                f"altitude {number} m is outside {MIN_ALTITUDE_M:.0f}..{MAX_ALTITUDE_M:.0f} m",
                f"{f}.value",
            )
        out.append(number)
    lo, hi = out
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput("altitude_lower is above altitude_upper", f"{field}.altitude_lower")
    return lo, hi


def validate_times(
    start: datetime | None,
    end: datetime | None,
    field: str = "extents",
    *,
    required: bool = False,
    not_before: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """Check times are UTC-aware, ``end`` after ``start`` and (if given) ``end >= not_before``."""
    for name, value in (("time_start", start), ("time_end", end)):
        if value is None:
            if required:
                raise InvalidInput("is required", f"{field}.{name}")
            continue
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidInput("must be a time with a time zone", f"{field}.{name}")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("time_end must be after time_start", f"{field}.time_end")
    if end is not None and not_before is not None and end < not_before:
        raise InvalidInput("time_end is in the past", f"{field}.time_end")
    return start, end


def cover_volume(
    volume: Volume4D,
    field: str = "extents",
    *,
    max_area_km2: float = MAX_AREA_KM2,
    require_all: bool = True,
    not_before: datetime | None = None,
) -> tuple[frozenset[int], float | None, float | None, datetime | None, datetime | None]:
    """Validate one 4D volume and return (cells, altitude lower, upper, time start, end).

    With ``require_all`` both altitudes and both times are required (puts of intents and
    constraints); ``not_before`` refuses a volume that ended before it. Fields are reported as
    ``{field}.volume...`` and ``{field}.time_end``.
    """
    if not isinstance(volume, Volume4D):
        raise InvalidInput("must be a 4D volume", field)
    cells = cover_outline(volume.outline, f"{field}.volume", max_area_km2)
    lo, hi = validate_altitudes(
        volume.altitude_lower_m, volume.altitude_upper_m, f"{field}.volume", required=require_all
    )
    t0, t1 = validate_times(
        volume.time_start, volume.time_end, field, required=require_all, not_before=not_before
    )
    return cells, lo, hi, t0, t1


def cover_volumes(
    volumes: Iterable[Volume4D],
    field: str = "extents",
    *,
    max_area_km2: float = MAX_AREA_KM2,
    require_all: bool = True,
    not_before: datetime | None = None,
) -> tuple[frozenset[int], float | None, float | None, datetime | None, datetime | None]:
    """Validate a list of 4D volumes (``{field}[i]``) and return their union:
    (cells, lowest altitude, highest altitude, earliest start, latest end).

    A bound is ``None`` when any volume leaves it open.
    """
    if isinstance(volumes, Volume4D) or not isinstance(volumes, Iterable):
        raise InvalidInput("must be a list of 4D volumes", field)
    vols = list(volumes)
    if not vols:
        raise InvalidInput("at least one volume is required", field)
    cells: set[int] = set()
    lows: list[float] = []
    highs: list[float] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    for i, v in enumerate(vols):
        c, lo, hi, t0, t1 = cover_volume(
            v,
            f"{field}[{i}]",
            max_area_km2=max_area_km2,
            require_all=require_all,
            not_before=not_before,
        )
        cells |= c
        if lo is not None:
            lows.append(lo)
        if hi is not None:
            highs.append(hi)
        if t0 is not None:
            starts.append(t0)
        if t1 is not None:
            ends.append(t1)
    return (
        frozenset(cells),
        min(lows) if len(lows) == len(vols) else None,
        max(highs) if len(highs) == len(vols) else None,
        min(starts) if len(starts) == len(vols) else None,
        max(ends) if len(ends) == len(vols) else None,
    )


def parent_cells(cells: Iterable[int], level: int = LOCK_LEVEL) -> list[int]:
    """The distinct level-``level`` ancestors of signed cell ids, sorted ascending (signed)."""
    # The S2 parent: keep the bits above the level's marker bit, then set that bit.
    lsb = 1 << (2 * (30 - level))
    keep = _U64 - lsb  # 2**64 - lsb: every bit from lsb up
    parents = {to_signed((to_unsigned(c) & keep) | lsb) for c in cells}
    return sorted(parents)
