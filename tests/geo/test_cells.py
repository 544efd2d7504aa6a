"""Validation of volumes and S2 coverings (sharedsky.geo.cells)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import s2geometry as s2
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedsky.errors import AreaTooLarge, InvalidInput
from sharedsky.geo import (
    CELL_LEVEL,
    LOCK_LEVEL,
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
from sharedsky.model import Circle, LatLng, Polygon, Volume4D

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def square(lat: float, lng: float, size: float) -> Polygon:
    return Polygon(
        (
            LatLng(lat, lng),
            LatLng(lat, lng + size),
            LatLng(lat + size, lng + size),
            LatLng(lat + size, lng),
        )
    )


def test_small_square_is_covered_by_level_13_cells_whose_parents_are_few() -> None:
    cells = cover_outline(square(46.0, 7.0, 0.02))
    # 0.02° x 0.014° at 46N is about 3.1 km² and level-13 cells are about 1 km²: a handful.
    assert 2 <= len(cells) <= 16
    parents = parent_cells(cells)
    assert parents == sorted(parents)
    assert 1 <= len(parents) <= 4
    import s2geometry as s2

    for c in cells:
        assert s2.S2CellId(to_unsigned(c)).level() == CELL_LEVEL
    for p in parents:
        assert s2.S2CellId(to_unsigned(p)).level() == LOCK_LEVEL


def test_winding_order_does_not_matter() -> None:
    sq = square(46.0, 7.0, 0.05)
    reverse = Polygon(tuple(reversed(sq.vertices)))
    assert cover_outline(sq) == cover_outline(reverse)
    assert outline_area_km2(sq) == pytest.approx(outline_area_km2(reverse))
    assert outline_area_km2(sq) == pytest.approx(5.56 * 3.86, rel=0.02)


def test_signed_cell_ids_round_trip_and_fit_int64() -> None:
    # Faces 4 and 5 have ids above 2^63: they must come back negative and round-trip.
    cells = cover_outline(Circle(LatLng(-60.0, -150.0), 500.0))
    assert cells and all(-(2**63) <= c < 2**63 for c in cells)
    assert any(c < 0 for c in cells)
    for c in cells:
        assert to_signed(to_unsigned(c)) == c


def test_circle_is_covered_as_a_cap() -> None:
    cells = cover_outline(Circle(LatLng(46.0, 7.0), 1000.0))
    # pi km² at ~1.3 km² per cell: a cap covering needs a few cells, more than one.
    assert 2 <= len(cells) <= 20
    bigger = cover_outline(Circle(LatLng(46.0, 7.0), 3000.0))
    assert cells < bigger
    assert outline_area_km2(Circle(LatLng(0, 0), 1000.0)) == pytest.approx(math.pi, rel=1e-3)


@pytest.mark.parametrize(
    ("outline", "field"),
    [
        (Polygon((LatLng(0, 0), LatLng(0, 1))), "v.outline_polygon.vertices"),
        (
            Polygon((LatLng(0, 0), LatLng(0, 0.1), LatLng(0, 0.1), LatLng(0.1, 0))),
            "v.outline_polygon.vertices",
        ),
        (
            Polygon((LatLng(0, 0), LatLng(0.1, 0.1), LatLng(0, 0.1), LatLng(0.1, 0))),
            "v.outline_polygon.vertices",
        ),
        (Polygon((LatLng(91, 0), LatLng(0, 1), LatLng(1, 1))), "v.outline_polygon.vertices[0].lat"),
        (
            Polygon((LatLng(0, 0), LatLng(0, 181), LatLng(1, 1))),
            "v.outline_polygon.vertices[1].lng",
        ),
        (
            Polygon((LatLng(0, 0), LatLng(0, 1), LatLng(float("nan"), 1))),
            "v.outline_polygon.vertices[2].lat",
        ),
        (Circle(LatLng(0, 0), 0.0), "v.outline_circle.radius.value"),
        (Circle(LatLng(0, 0), -5.0), "v.outline_circle.radius.value"),
        (Circle(LatLng(95, 0), 10.0), "v.outline_circle.center.lat"),
        (None, "v"),
    ],
)
def test_bad_outlines_name_the_field(outline: Polygon | Circle | None, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        cover_outline(outline, "v")
    assert info.value.field == field
    assert not isinstance(info.value, AreaTooLarge)


def test_area_limit_applies_to_polygons_and_circles() -> None:
    # uss_qualifier's "problematically big area": a 1° x 1° box near 37-38N 80-81W.
    with pytest.raises(AreaTooLarge) as info:
        cover_outline(square(37.0, -81.0, 1.0), "area_of_interest.volume")
    assert info.value.field == "area_of_interest.volume.outline_polygon"
    with pytest.raises(AreaTooLarge):
        cover_outline(Circle(LatLng(37.0, -80.0), 30_000.0))
    assert cover_outline(square(37.0, -81.0, 1.0), max_area_km2=10_000)


def test_altitudes() -> None:
    assert validate_altitudes(-8000, 100000) == (-8000.0, 100000.0)
    assert validate_altitudes(None, None) == (None, None)
    with pytest.raises(InvalidInput) as info:
        validate_altitudes(-8001, 0, "e")
    assert info.value.field == "e.altitude_lower.value"
    with pytest.raises(InvalidInput) as info:
        validate_altitudes(0, 100001, "e")
    assert info.value.field == "e.altitude_upper.value"
    with pytest.raises(InvalidInput) as info:
        validate_altitudes(200, 100, "e")
    assert info.value.field == "e.altitude_lower"
    with pytest.raises(InvalidInput) as info:
        validate_altitudes(None, 100, "e", required=True)
    assert info.value.field == "e.altitude_lower"


def test_times() -> None:
    later = T0 + timedelta(hours=1)
    assert validate_times(T0, later) == (T0, later)
    with pytest.raises(InvalidInput) as info:
        validate_times(later, T0, "x")
    assert info.value.field == "x.time_end"
    with pytest.raises(InvalidInput) as info:
        validate_times(T0, later, "x", not_before=later + timedelta(seconds=1))
    assert "past" in info.value.message
    with pytest.raises(InvalidInput) as info:
        validate_times(None, later, "x", required=True)
    assert info.value.field == "x.time_start"
    with pytest.raises(InvalidInput):
        validate_times(T0.replace(tzinfo=None), later)


def test_cover_volumes_takes_the_union_and_names_each_extent() -> None:
    a = Volume4D(square(46.0, 7.0, 0.01), 0, 100, T0, T0 + timedelta(hours=1))
    b = Volume4D(square(46.1, 7.1, 0.01), 50, 300, T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    cells, lo, hi, start, end = cover_volumes([a, b])
    assert cells == cover_volume(a)[0] | cover_volume(b)[0]
    assert (lo, hi, start, end) == (0, 300, T0, T0 + timedelta(hours=3))
    bad = Volume4D(square(46.0, 7.0, 0.01), 0, None, T0, T0 + timedelta(hours=1))
    with pytest.raises(InvalidInput) as info:
        cover_volumes([a, bad])
    assert info.value.field == "extents[1].volume.altitude_upper"
    with pytest.raises(InvalidInput) as info:
        cover_volumes([])
    assert info.value.field == "extents"
    # Queries may leave bounds open: an open bound in any volume opens the union.
    _, lo, hi, start, end = cover_volumes([a, bad], require_all=False)
    assert (lo, hi) == (0, None)


# -- property tests: random input never raises anything but InvalidInput -----------------

coords = st.floats(allow_nan=True, allow_infinity=True, width=64)
lats = st.one_of(st.floats(-95, 95), coords)
lngs = st.one_of(st.floats(-185, 185), coords)
points = st.builds(LatLng, lats, lngs)
near = st.builds(LatLng, st.floats(45.9, 46.1), st.floats(6.9, 7.1))  # small polygons, often valid
polygons = st.builds(
    Polygon,
    st.one_of(
        st.lists(points, min_size=0, max_size=8).map(tuple),
        st.lists(near, min_size=3, max_size=8).map(tuple),
    ),
)
circles = st.builds(
    Circle,
    st.one_of(points, near),
    st.one_of(st.floats(-10, 50_000), st.floats(allow_nan=True, allow_infinity=True)),
)
# hypothesis takes naive bounds; the first strategy attaches UTC, the second stays naive (refused).
_LOW = datetime(2000, 1, 1)  # noqa: DTZ001
_HIGH = datetime(2100, 1, 1)  # noqa: DTZ001
times = st.one_of(
    st.none(),
    st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.just(UTC)),
    st.datetimes(min_value=_LOW, max_value=_HIGH),
)
altitudes = st.one_of(st.none(), st.floats(-10_000, 110_000), coords)


@settings(max_examples=300, deadline=None)
@given(outline=st.one_of(st.none(), polygons, circles))
def test_random_outlines_raise_only_invalid_input(outline: Polygon | Circle | None) -> None:
    try:
        cells = cover_outline(outline, "v")
    except InvalidInput as exc:
        assert exc.field is not None and exc.field.startswith("v")
    else:
        assert all(isinstance(c, int) and -(2**63) <= c < 2**63 for c in cells)


@settings(max_examples=200, deadline=None)
@given(
    outline=st.one_of(polygons, circles),
    lo=altitudes,
    hi=altitudes,
    start=times,
    end=times,
    require_all=st.booleans(),
)
def test_random_volumes_raise_only_invalid_input(
    outline: Polygon | Circle,
    lo: float | None,
    hi: float | None,
    start: datetime | None,
    end: datetime | None,
    require_all: bool,
) -> None:
    v = Volume4D(outline, lo, hi, start, end)
    try:
        _, got_lo, got_hi, got_start, got_end = cover_volume(v, require_all=require_all)
    except InvalidInput as exc:
        assert exc.field is not None and exc.field.startswith("extents")
    else:
        if got_lo is not None and got_hi is not None:
            assert -8000 <= got_lo <= got_hi <= 100000
        if got_start is not None and got_end is not None:
            assert got_start < got_end


@given(
    lat=st.floats(-90, 90),
    lng=st.floats(-180, 180),
    cell_level=st.integers(0, 30),
    level=st.integers(0, 30),
)
def test_parent_cells_are_the_s2_parents(
    lat: float, lng: float, cell_level: int, level: int
) -> None:
    level = min(level, cell_level)
    cell = s2.S2CellId(s2.S2LatLng.FromDegrees(lat, lng)).parent(cell_level)
    want = to_signed(cell.parent(level).id())
    assert parent_cells([to_signed(cell.id())], level) == [want]


def test_a_remembered_covering_is_the_covering_and_skips_no_check() -> None:
    box = square(46.0, 7.0, 0.01)
    first = cover_outline(box)
    assert cover_outline(box) == first
    assert cover_outline(Polygon(list(box.vertices))) == first  # type: ignore[arg-type]
    unit = square(1.0, 1.0, 0.01)
    cover_outline(unit)
    # Equal to the remembered square (True == 1.0), but a boolean is not a coordinate.
    flagged = Polygon((LatLng(True, 1.0), *unit.vertices[1:]))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must be a number"):
        cover_outline(flagged)
