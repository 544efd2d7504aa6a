"""Seeded traffic scenarios for the tactical benchmark (SI units, WGS-84 degrees).

Every scenario is a dict of equal-length numpy arrays: ``id`` (str), ``lat``, ``lon`` (deg),
``alt_m``, ``gs_mps``, ``trk_deg``, ``vs_mps``. The same arrays feed our engine and the BlueSky
harness, so both detectors see bit-identical states.
"""

from __future__ import annotations

import csv
import math
from importlib import resources

import numpy as np

FT = 0.3048
EARTH_RADIUS_M = 6_371_000.0

# Major airports by ICAO code, spread over every continent so that routes cross oceans, the
# poles' neighbourhood and the antimeridian. Coordinates come from openap's airport table.
MAJOR_AIRPORTS: tuple[str, ...] = (
    # Europe
    "EGLL", "EGKK", "LFPG", "LFPO", "EHAM", "EDDF", "EDDM", "LEMD", "LEBL", "LIRF", "LIMC",
    "LSZH", "LOWW", "EKCH", "ENGM", "ESSA", "EFHK", "EIDW", "LPPT", "LTFM", "UUEE", "EPWA",
    "LKPR", "LGAV", "EBBR",
    # North America
    "KATL", "KLAX", "KORD", "KDFW", "KDEN", "KJFK", "KSFO", "KSEA", "KLAS", "KMCO", "KMIA",
    "KEWR", "KBOS", "KIAH", "KPHX", "KMSP", "KDTW", "CYYZ", "CYVR", "CYUL", "MMMX", "PANC",
    "PHNL",
    # Asia, Middle East
    "RJTT", "RJAA", "RKSI", "ZBAA", "ZSPD", "VHHH", "RCTP", "WSSS", "VTBS", "WMKK", "RPLL",
    "VIDP", "VABB", "OMDB", "OTHH", "OERK", "ZGGG", "WIII",
    # Oceania
    "YSSY", "YMML", "YBBN", "NZAA", "NFFN",
    # South America, Africa
    "SBGR", "SCEL", "SAEZ", "SKBO", "SPIM", "FAJS", "HECA", "DNMM", "HKJK", "GMMN",
)  # fmt: skip


def dense_box(
    n: int,
    seed: int,
    *,
    centre_lat: float = 50.0,
    centre_lon: float = 5.0,
    side_m: float = 1_000_000.0,
) -> dict[str, np.ndarray]:
    """N aircraft uniform in a ``side_m`` square box centred at (centre_lat, centre_lon).

    FL100–FL400 uniform, ground speed 150–250 m/s, track uniform, 30 % climbing or descending at
    5–15 m/s (about 1000–3000 ft/min), the rest level. Positions are uniform in the local
    east/north plane of the box centre.
    """
    rng = np.random.default_rng(seed)
    half = side_m / 2.0
    east = rng.uniform(-half, half, n)
    north = rng.uniform(-half, half, n)
    lat = centre_lat + np.degrees(north / EARTH_RADIUS_M)
    lon = centre_lon + np.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(centre_lat))))
    alt = rng.uniform(100 * 100 * FT, 400 * 100 * FT, n)
    gs = rng.uniform(150.0, 250.0, n)
    trk = rng.uniform(0.0, 360.0, n)
    vs = np.zeros(n)
    vertical = rng.random(n) < 0.30
    rate = rng.uniform(5.0, 15.0, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    vs[vertical] = rate[vertical]
    return _pack(lat, lon, alt, gs, trk, vs, prefix="D")


def load_airports(codes: tuple[str, ...] = MAJOR_AIRPORTS) -> dict[str, tuple[float, float]]:
    """(lat, lon) of the given ICAO codes from openap's airport table (``bench`` extra)."""
    table = resources.files("openap") / "data" / "nav" / "airports.csv"
    wanted = set(codes)
    found: dict[str, tuple[float, float]] = {}
    with table.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["icao"] in wanted:
                found[row["icao"]] = (float(row["lat"]), float(row["lon"]))
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"airports missing from openap's table: {sorted(missing)}")
    return found


def _great_circle(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray, frac: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point at fraction ``frac`` along each great circle, its course there, and the length."""
    p1, l1, p2, l2 = (np.radians(a) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    delta = 2 * np.arcsin(np.sqrt(a))
    sd = np.sin(delta)
    fa = np.sin((1 - frac) * delta) / sd
    fb = np.sin(frac * delta) / sd
    x = fa * np.cos(p1) * np.cos(l1) + fb * np.cos(p2) * np.cos(l2)
    y = fa * np.cos(p1) * np.sin(l1) + fb * np.cos(p2) * np.sin(l2)
    z = fa * np.sin(p1) + fb * np.sin(p2)
    lat = np.arctan2(z, np.hypot(x, y))
    lon = np.arctan2(y, x)
    # Course at the point: initial bearing from the point towards the destination.
    dl = l2 - lon
    course = np.arctan2(
        np.sin(dl) * np.cos(p2), np.cos(lat) * np.sin(p2) - np.sin(lat) * np.cos(p2) * np.cos(dl)
    )
    return np.degrees(lat), np.degrees(lon), np.degrees(course) % 360.0, delta * EARTH_RADIUS_M


def worldwide(n: int, seed: int, *, min_route_m: float = 400_000.0) -> dict[str, np.ndarray]:
    """N aircraft along great-circle routes between random pairs of major airports.

    Each aircraft sits at a uniform fraction of its route. Within 200 km of either end it is
    climbing or descending on a 3° like profile (altitude proportional to distance from the
    airport, 1500–3000 ft/min); otherwise it cruises level at a random flight level FL280–FL410
    (odd thousands eastbound, even westbound, as in the semicircular rule). Ground speed
    220–260 m/s in cruise, 120–200 m/s near the ends.
    """
    rng = np.random.default_rng(seed)
    airports = load_airports()
    codes = sorted(airports)
    coords = np.array([airports[c] for c in codes])
    origin = rng.integers(0, len(codes), 4 * n)
    dest = rng.integers(0, len(codes), 4 * n)
    keep = origin != dest
    origin, dest = origin[keep], dest[keep]
    _, _, _, length = _great_circle(
        coords[origin, 0], coords[origin, 1], coords[dest, 0], coords[dest, 1], np.zeros(len(dest))
    )
    keep = length >= min_route_m
    origin, dest, length = origin[keep][:n], dest[keep][:n], length[keep][:n]
    if len(origin) < n:
        raise SystemExit("not enough long routes drawn; raise the oversampling factor")
    frac = rng.uniform(0.0, 1.0, n)
    lat, lon, trk, _ = _great_circle(
        coords[origin, 0], coords[origin, 1], coords[dest, 0], coords[dest, 1], frac
    )
    from_origin = frac * length
    to_dest = (1 - frac) * length
    eastbound = trk < 180.0
    cruise_fl = (
        np.where(
            eastbound,
            2 * rng.integers(14, 21, n) + 1,  # FL290..FL410 odd
            2 * rng.integers(14, 21, n),  # FL280..FL400 even
        )
        * 10
    )
    cruise_alt = cruise_fl * 100 * FT
    terminal = 200_000.0
    climb = from_origin < terminal
    descend = (to_dest < terminal) & ~climb
    alt = cruise_alt.astype(float)
    alt[climb] = np.minimum(cruise_alt[climb], 1500 * FT + from_origin[climb] * 0.05)
    alt[descend] = np.minimum(cruise_alt[descend], 1500 * FT + to_dest[descend] * 0.05)
    gs = rng.uniform(220.0, 260.0, n)
    near = climb | descend
    gs[near] = rng.uniform(120.0, 200.0, int(near.sum()))
    rate = rng.uniform(1500.0, 3000.0, n) * FT / 60.0
    vs = np.zeros(n)
    vs[climb & (alt < cruise_alt)] = rate[climb & (alt < cruise_alt)]
    vs[descend & (alt < cruise_alt)] = -rate[descend & (alt < cruise_alt)]
    return _pack(lat, lon, alt, gs, trk, vs, prefix="W")


def volumes_near(states: dict[str, np.ndarray], count: int, seed: int) -> list[dict[str, object]]:
    """``count`` protected volumes placed near random aircraft of ``states``.

    Half circles (radius 5–40 km), half convex polygons (6–12 vertices, 5–40 km); altitude bands
    of 5000–20000 ft starting between the surface and FL350; active for the whole look-ahead.
    Each volume's centre is 20–150 km from a random aircraft, so many tracks meet some volume
    within 300 s and the check does real work.
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(states["lat"]), count)
    out: list[dict[str, object]] = []
    for k, i in enumerate(idx):
        bearing = rng.uniform(0.0, 2 * math.pi)
        dist = rng.uniform(20_000.0, 150_000.0)
        lat0 = float(states["lat"][i])
        lon0 = float(states["lon"][i])
        clat = lat0 + math.degrees(dist * math.cos(bearing) / EARTH_RADIUS_M)
        clat = max(-85.0, min(85.0, clat))
        clon = lon0 + math.degrees(
            dist * math.sin(bearing) / (EARTH_RADIUS_M * math.cos(math.radians(clat)))
        )
        radius = rng.uniform(5_000.0, 40_000.0)
        # Keep each volume clear of the antimeridian so its outline needs no wrapping.
        margin = math.degrees(radius / (EARTH_RADIUS_M * math.cos(math.radians(clat)))) + 0.1
        clon = max(-180.0 + margin, min(180.0 - margin, (clon + 180.0) % 360.0 - 180.0))
        floor = rng.uniform(0.0, 35_000.0) * FT
        ceiling = floor + rng.uniform(5_000.0, 20_000.0) * FT
        vol: dict[str, object] = {
            "id": f"V{k}",
            "kind": "circle" if k % 2 == 0 else "polygon",
            "lat": clat,
            "lon": clon,
            "radius_m": radius,
            "floor_m": floor,
            "ceiling_m": ceiling,
        }
        if vol["kind"] == "polygon":
            m = int(rng.integers(6, 13))
            angles = np.sort(rng.uniform(0.0, 2 * math.pi, m))
            radii = radius * rng.uniform(0.6, 1.0, m)
            ring = [
                (
                    clat + math.degrees(r * math.cos(a) / EARTH_RADIUS_M),
                    clon
                    + math.degrees(
                        r * math.sin(a) / (EARTH_RADIUS_M * math.cos(math.radians(clat)))
                    ),
                )
                for a, r in zip(angles, radii, strict=True)
            ]
            vol["ring_latlon"] = ring
        out.append(vol)
    return out


def _pack(
    lat: np.ndarray,
    lon: np.ndarray,
    alt: np.ndarray,
    gs: np.ndarray,
    trk: np.ndarray,
    vs: np.ndarray,
    *,
    prefix: str,
) -> dict[str, np.ndarray]:
    n = len(lat)
    return {
        "id": np.array([f"{prefix}{i:06d}" for i in range(n)]),
        "lat": np.ascontiguousarray(lat, dtype=np.float64),
        "lon": np.ascontiguousarray((lon + 180.0) % 360.0 - 180.0, dtype=np.float64),
        "alt_m": np.ascontiguousarray(alt, dtype=np.float64),
        "gs_mps": np.ascontiguousarray(gs, dtype=np.float64),
        "trk_deg": np.ascontiguousarray(trk, dtype=np.float64),
        "vs_mps": np.ascontiguousarray(vs, dtype=np.float64),
    }


def edge_cases() -> tuple[dict[str, np.ndarray], list[str]]:
    """Hand-placed pairs from tactical.md's appendix, each pair far from the others.

    Returns the states (rows 2k and 2k+1 form pair k) and each pair's name. With 5 NM /
    1000 ft / 300 s the expected answers are: a conflict for every pair except
    ``level_1000ft_apart`` (exactly at the vertical minimum, strict inequality) and
    ``crossing_miss_10nm``.
    """
    kt = 1852.0 / 3600.0
    nm = 1852.0
    fl = 100 * FT
    deg = math.degrees(1.0 / EARTH_RADIUS_M)  # degrees of arc per metre
    rows: list[tuple[float, float, float, float, float, float]] = []
    names: list[str] = []

    def pair(name: str, a: tuple[float, ...], b: tuple[float, ...]) -> None:
        names.append(name)
        rows.extend([a, b])  # type: ignore[list-item]

    # (lat, lon, alt_m, gs_mps, trk_deg, vs_mps)
    lat, half = 50.0, 25 * nm * deg / math.cos(math.radians(50.0))
    pair("head_on_50nm", (lat, 5 - half, 300 * fl, 450 * kt, 90, 0),
         (lat, 5 + half, 300 * fl, 450 * kt, 270, 0))  # fmt: skip
    half = 25 * nm * deg
    pair("head_on_antimeridian", (0.0, 180 - half, 300 * fl, 450 * kt, 90, 0),
         (0.0, -180 + half, 300 * fl, 450 * kt, 270, 0))  # fmt: skip
    lat, half = 30.0, 25 * nm * deg / math.cos(math.radians(30.0))
    # 1000 ft and 2000 ft: 2000 ft is 1000 ft doubled, so the difference is exactly 1000 ft
    # in floating point (FL300 / FL310 would be off by one ulp)
    pair("level_1000ft_apart", (lat, 60 - half, 10 * fl, 450 * kt, 90, 0),
         (lat, 60 + half, 2 * (10 * fl), 450 * kt, 270, 0))  # fmt: skip
    lat, half = -20.0, 25 * nm * deg / math.cos(math.radians(20.0))
    pair("slow_climb_through", (lat, 100 - half, 290 * fl, 450 * kt, 90, 500 * FT / 60),
         (lat, 100 + half, 310 * fl, 450 * kt, 270, 0))  # fmt: skip
    lat, off = -40.0, 3 * nm * deg
    pair("parallel_los_vrel_0", (lat, 140.0, 300 * fl, 450 * kt, 0, 0),
         (lat, 140.0 + off / math.cos(math.radians(lat)), 300 * fl, 450 * kt, 0, 0))  # fmt: skip
    lat, half = 10.0, 25 * nm * deg
    pair("crossing_miss_10nm", (lat - half, -60.0, 300 * fl, 450 * kt, 0, 0),
         (lat + 10 * nm * deg, -60.0 - half / math.cos(math.radians(lat)), 300 * fl, 450 * kt,
          90, 0))  # fmt: skip
    lat, half = 70.0, 12 * nm * deg / math.cos(math.radians(70.0))
    pair("head_on_70N", (lat, 20 - half, 300 * fl, 450 * kt, 90, 0),
         (lat, 20 + half, 300 * fl, 450 * kt, 270, 0))  # fmt: skip
    arr = np.array(rows, dtype=np.float64)
    return _pack(
        arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5], prefix="E"
    ), names
