"""Write SBS-1 / BaseStation lines from a traffic-style table (to derive an SBS recording).

No public SBS-1 recording of useful size exists, so SBS test data and the feeds benchmark are
*derived*: the real ADS-B positions of a ``traffic`` table (OpenSky state vectors: ``timestamp``,
``icao24``, ``callsign``, ``latitude``, ``longitude``, ``altitude`` [ft], ``groundspeed`` [kt],
``track`` [deg], ``vertical_rate`` [ft/min], optional ``squawk`` and ``onground``) are written
as the partial messages a dump1090 receiver would emit for them. For each row, in time order:

* ``MSG,1`` (identification) when the aircraft's callsign is first seen or changes;
* ``MSG,6`` (surveillance identity: altitude and squawk) when its squawk is first seen or changes;
* ``MSG,4`` (airborne velocity) when ground speed and track are known;
* ``MSG,3`` (airborne position, with altitude) or, on the ground, ``MSG,2`` (surface position,
  with speed and track); a row without velocity yet with an altitude still gives its ``MSG,3``.

Generated and logged date/time are both the row's timestamp in UTC, with milliseconds. Label
whatever file this produces "derived", with the provenance of the source recording.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.errors import InvalidInput

__all__ = ["sbs_lines", "write_sbs"]

_REQUIRED = ("timestamp", "icao24", "latitude", "longitude")


def _epoch_seconds(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(col):
        c = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
        return (c.astype("datetime64[ns, UTC]").astype("int64") / 1e9).to_numpy()
    x = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64)
    return np.where(np.abs(x) > 1e11, x / 1000.0, x)


def _num(v: float, fmt: str) -> str:
    return "" if v != v else fmt % v


def sbs_lines(table: pd.DataFrame, session: int = 1) -> Iterator[str]:
    """SBS lines (without newline) for the rows of ``table``, sorted by time (stable)."""
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise InvalidInput(f"missing column(s) {missing}", "table")
    t = _epoch_seconds(table["timestamp"])
    order = np.argsort(t, kind="stable")

    def col(name: str, default: Any = np.nan) -> np.ndarray:
        if name in table.columns:
            return table[name].to_numpy()[order]
        return np.full(len(table), default, dtype=object)

    t = t[order]
    icao = col("icao24")
    cs = col("callsign", "")
    lat = col("latitude").astype(np.float64)
    lon = col("longitude").astype(np.float64)
    alt = col("altitude").astype(np.float64)
    gs = col("groundspeed").astype(np.float64)
    trk = col("track").astype(np.float64)
    vr = col("vertical_rate").astype(np.float64)
    sq = col("squawk")
    gnd = col("onground", False)
    last_cs: dict[str, str] = {}
    last_sq: dict[str, str] = {}
    ids: dict[str, int] = {}
    day_cache: dict[int, str] = {}
    for k in range(len(t)):
        tk = float(t[k])
        if not math.isfinite(tk):
            continue
        day = int(tk // 86400)
        d = day_cache.get(day)
        if d is None:
            d = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y/%m/%d")
            day_cache[day] = d
        sod = tk - day * 86400
        ms = round(sod * 1000.0)
        hh, rem = divmod(ms, 3_600_000)
        mm, rem = divmod(rem, 60_000)
        tm = f"{hh:02d}:{mm:02d}:{rem // 1000:02d}.{rem % 1000:03d}"
        hexid = str(icao[k]).upper()
        aid = ids.setdefault(hexid, len(ids) + 1)
        head = f"{session},{aid},{hexid},{aid},{d},{tm},{d},{tm}"
        c = cs[k]
        c = "" if not isinstance(c, str) else c.strip()
        if c and last_cs.get(hexid) != c:
            last_cs[hexid] = c
            yield f"MSG,1,{head},{c},,,,,,,,,,,0"
        s = sq[k]
        if s is not None and not (isinstance(s, float) and math.isnan(s)):
            s = f"{int(s):04d}" if isinstance(s, int | float | np.integer | np.floating) else str(s)
            if last_sq.get(hexid) != s:
                last_sq[hexid] = s
                yield f"MSG,6,{head},,{_num(alt[k], '%.0f')},,,,,,{s},0,0,0,0"
        a = _num(alt[k], "%.0f")
        g, tr = _num(gs[k], "%.1f"), _num(trk[k] % 360.0, "%.1f")
        on_ground = bool(gnd[k]) if gnd[k] is not None and gnd[k] == gnd[k] else False
        if g and tr and not on_ground:
            yield f"MSG,4,{head},,,{g},{tr},,,{_num(vr[k], '%.0f')},,0,0,0,0"
        if lat[k] != lat[k] or lon[k] != lon[k]:
            if a:
                yield f"MSG,5,{head},,{a},,,,,,,0,0,0,0"
            continue
        if on_ground:
            yield f"MSG,2,{head},,{a},{g},{tr},{lat[k]:.5f},{lon[k]:.5f},,,,,,-1"
        else:
            yield f"MSG,3,{head},,{a},,,{lat[k]:.5f},{lon[k]:.5f},,,0,0,0,0"


def write_sbs(table: pd.DataFrame, path: str | Path, session: int = 1) -> int:
    """Write :func:`sbs_lines` of ``table`` to ``path`` (``\\r\\n`` line ends, as dump1090);
    return the number of lines."""
    n = 0
    with open(path, "w", encoding="ascii", newline="") as out:
        for line in sbs_lines(table, session):
            out.write(line)
            out.write("\r\n")
            n += 1
    return n
