"""Spherical geodesy, checked against pyproj's Geod on the same sphere and known values."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest

from sharedsky.geo import destination, ecef, haversine_m, local_xy
from sharedsky.units import EARTH_RADIUS_M

R = EARTH_RADIUS_M
SPHERE = pyproj.Geod(a=R, b=R)
DEG_M = R * math.pi / 180.0  # one degree of a great circle


def _points(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lat1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat2 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    return lat1, rng.uniform(-180, 180, n), lat2, rng.uniform(-180, 180, n)


def test_haversine_matches_geod_on_random_points() -> None:
    lat1, lon1, lat2, lon2 = _points(2000, 1)
    _, _, ref = SPHERE.inv(lon1, lat1, lon2, lat2)
    assert np.allclose(haversine_m(lat1, lon1, lat2, lon2), ref, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        ((0.0, 0.0), (1.0, 0.0), DEG_M),
        ((0.0, 0.0), (0.0, 90.0), 90 * DEG_M),
        ((0.0, 0.0), (0.0, 180.0), math.pi * R),  # antipodes
        ((90.0, 0.0), (-90.0, 0.0), math.pi * R),  # pole to pole
        ((90.0, 10.0), (90.0, -170.0), 0.0),  # the same pole, any longitude
        ((89.0, 0.0), (89.0, 180.0), 2 * DEG_M),  # over the pole
        ((10.0, 179.5), (10.0, -179.5), None),  # across the antimeridian: short way
        ((10.0, 180.0), (10.0, -180.0), 0.0),
    ],
)
def test_haversine_known_values(
    a: tuple[float, float], b: tuple[float, float], metres: float | None
) -> None:
    d = float(haversine_m(a[0], a[1], b[0], b[1]))
    expected = metres if metres is not None else SPHERE.inv(a[1], a[0], b[1], b[0])[2]
    assert d == pytest.approx(expected, abs=1e-6)
    assert float(haversine_m(b[0], b[1], a[0], a[1])) == pytest.approx(d, abs=1e-9)


def test_haversine_in_radians_is_the_same_computation() -> None:
    lat1, lon1, lat2, lon2 = _points(500, 2)
    deg = haversine_m(lat1, lon1, lat2, lon2)
    rad = haversine_m(*map(np.radians, (lat1, lon1, lat2, lon2)), radians=True)
    assert np.array_equal(deg, rad)


def test_haversine_broadcasts_and_propagates_nan() -> None:
    d = haversine_m(0.0, 0.0, np.array([0.0, 1.0, np.nan]), np.array([0.0, 0.0, 0.0]))
    assert d.shape == (3,)
    assert d[0] == 0.0 and d[1] == pytest.approx(DEG_M) and np.isnan(d[2])


def test_destination_matches_geod_on_random_points() -> None:
    rng = np.random.default_rng(3)
    lat, lon, _, _ = _points(2000, 3)
    lat = np.clip(lat, -89.9, 89.9)
    bearing = rng.uniform(0, 360, lat.size)
    dist = rng.uniform(0, 2e7, lat.size)
    lat2, lon2 = destination(lat, lon, bearing, dist)
    ref_lon, ref_lat, _ = SPHERE.fwd(lon, lat, bearing, dist)
    assert np.allclose(lat2, ref_lat, atol=1e-8)
    dlon = (lon2 - ref_lon + 180.0) % 360.0 - 180.0
    assert np.abs(dlon * np.cos(np.radians(ref_lat))).max() < 1e-8
    assert ((lon2 >= -180.0) & (lon2 < 180.0)).all()
    # and the distance travelled is the distance asked
    assert np.allclose(haversine_m(lat, lon, lat2, lon2), dist, atol=1e-2)


def test_destination_known_values_antimeridian_and_poles() -> None:
    lat, lon = destination(0.0, 179.5, 90.0, DEG_M)  # east across the antimeridian
    assert float(lat) == pytest.approx(0.0, abs=1e-12)
    assert float(lon) == pytest.approx(-179.5, abs=1e-9)
    lat, lon = destination(10.0, -179.9, 270.0, 50_000.0)  # west across it
    ref_lon, ref_lat, _ = SPHERE.fwd(-179.9, 10.0, 270.0, 50_000.0)
    assert float(lat) == pytest.approx(ref_lat, abs=1e-9)
    assert float(lon) == pytest.approx(ref_lon, abs=1e-9) and float(lon) > 0
    lat, lon = destination(89.0, 30.0, 0.0, 2 * DEG_M)  # over the North Pole
    assert float(lat) == pytest.approx(89.0, abs=1e-9)
    assert float(lon) == pytest.approx(-150.0, abs=1e-9)
    lat, lon = destination(-90.0, 0.0, 123.0, 10 * DEG_M)  # from the South Pole
    assert float(lat) == pytest.approx(-80.0, abs=1e-9)
    lat, lon = destination(45.0, 7.0, 200.0, 0.0)  # no distance: the start point
    assert (float(lat), float(lon)) == pytest.approx((45.0, 7.0), abs=1e-12)


def test_local_xy_is_exact_along_meridian_and_wraps_the_antimeridian() -> None:
    x, y = local_xy(np.array([11.0, 9.5]), np.array([5.0, 5.0]), 10.0, 5.0)
    assert x.tolist() == [0.0, 0.0]
    assert y == pytest.approx([DEG_M, -0.5 * DEG_M])
    # a point 0.2 deg west of the reference across the antimeridian, on either side
    for lon, lon0 in ((179.9, -179.9), (-179.9, 179.9)):
        x, y = local_xy(np.array([20.0]), np.array([lon]), 20.0, lon0)
        sign = -1.0 if lon > 0 else 1.0
        assert float(x[0]) == pytest.approx(sign * 0.2 * DEG_M * math.cos(math.radians(20)))
        assert float(y[0]) == 0.0


def test_local_xy_agrees_with_the_sphere_near_the_reference() -> None:
    rng = np.random.default_rng(4)
    lat0, lon0 = 47.3, 179.8  # next to the antimeridian
    az = rng.uniform(0, 360, 500)
    dist = rng.uniform(0, 20_000, 500)
    lon, lat, _ = SPHERE.fwd(np.full(500, lon0), np.full(500, lat0), az, dist)
    x, y = local_xy(lat, lon, lat0, lon0)
    assert np.allclose(np.hypot(x, y), dist, rtol=2e-3, atol=1e-6)
    bearing = np.degrees(np.arctan2(x, y)) % 360.0
    err = (bearing - az + 180.0) % 360.0 - 180.0
    assert np.abs(err[dist > 100]).max() < 0.3


def test_local_xy_per_point_references_are_the_one_plane_numbers() -> None:
    lat, lon, lat0, lon0 = _points(300, 5)
    x, y = local_xy(lat, lon, lat0, lon0)
    for k in range(0, 300, 37):
        xk, yk = local_xy(lat[k : k + 1], lon[k : k + 1], float(lat0[k]), float(lon0[k]))
        assert (x[k], y[k]) == (xk[0], yk[0])


def test_ecef_known_points_and_norm() -> None:
    p = ecef(np.array([0.0, 0.0, 90.0, -90.0]), np.array([0.0, 90.0, 0.0, 180.0]))
    assert p.shape == (4, 3)
    expected = [[R, 0, 0], [0, R, 0], [0, 0, R], [0, 0, -R]]
    assert np.allclose(p, expected, atol=1e-6)
    lat, lon, _, _ = _points(1000, 6)
    assert np.allclose(np.linalg.norm(ecef(lat, lon), axis=1), R, rtol=1e-15, atol=1e-6)
    # the same point on both sides of the antimeridian
    assert np.allclose(ecef(10.0, 180.0), ecef(10.0, -180.0), atol=1e-6)


def test_ecef_matches_pyproj_on_the_sphere() -> None:
    lat, lon, _, _ = _points(1000, 7)
    to_xyz = pyproj.Transformer.from_crs(
        pyproj.CRS.from_proj4(f"+proj=longlat +R={R} +no_defs"),
        pyproj.CRS.from_proj4(f"+proj=geocent +R={R} +units=m +no_defs"),
    )
    x, y, z = to_xyz.transform(lon, lat, np.zeros_like(lat))
    assert np.allclose(ecef(lat, lon), np.column_stack([x, y, z]), rtol=0, atol=1e-5)


def test_chord_never_exceeds_arc() -> None:
    lat1, lon1, lat2, lon2 = _points(2000, 8)
    chord = np.linalg.norm(ecef(lat1, lon1) - ecef(lat2, lon2), axis=1)
    arc = haversine_m(lat1, lon1, lat2, lon2)
    assert (chord <= arc + 1e-6).all()
    assert np.allclose(chord, 2 * R * np.sin(arc / (2 * R)), atol=1e-5)
