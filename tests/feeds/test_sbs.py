"""SBS-1 (BaseStation) decoder: a derived SBS recording through a loopback TCP socket into the
live service, checked against the table it was derived from.

No public SBS-1 recording of useful size exists, so the SBS data here is DERIVED: the first 15
minutes of ``traffic_quickstart.json.gz`` (../shared/data/adsb: real ADS-B positions from the
OpenSky Network, Paris TMA, 2021-10-07, shipped by the ``traffic`` package, MIT / OpenSky terms)
written as dump1090-style lines by :mod:`sharedsky.feeds.sbs_writer` into a file named
``*.derived.sbs`` at test time. The independent expectation is computed from the table itself.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedsky.errors import InvalidInput
from sharedsky.feeds.sbs import SbsDecoder
from sharedsky.feeds.sbs_writer import sbs_lines, write_sbs
from sharedsky.model.tracks import TrackBatch
from tests.feeds.adsb_helpers import check_counts, into_service, pieces, through_tcp
from tests.services.live_helpers import Clock

FT, KT, FPM = 0.3048, 1852.0 / 3600.0, 0.3048 / 60.0


@pytest.fixture(scope="module")
def table(shared_dir: Path) -> pd.DataFrame:
    df = pd.read_json(shared_dir / "data" / "adsb" / "traffic_quickstart.json.gz")
    t = df["timestamp"]
    return df[t < t.min() + pd.Timedelta(minutes=15)].reset_index(drop=True)


@pytest.fixture(scope="module")
def derived(table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sbs") / "traffic_quickstart.derived.sbs"
    write_sbs(table, path)
    return path


def _expected(table: pd.DataFrame, max_age: float = 10.0) -> pd.DataFrame:
    """The states an SBS receiver's lines of ``table`` must give, from the table alone: per
    aircraft, a position row gives a state when a velocity is at most ``max_age`` old; altitude is
    the latest one at most ``max_age`` old; a ground row carries its own speed and track."""
    df = table.copy()
    df["t"] = df["timestamp"].astype("datetime64[ns]").astype("int64") / 1e9
    df = df.sort_values("t", kind="stable")
    out = []
    last: dict[str, dict[str, float]] = {}
    for r in df.itertuples(index=False):
        s = last.setdefault(r.icao24, {"t_vel": -math.inf, "t_alt": -math.inf})
        if not math.isnan(r.altitude):
            s["alt"], s["t_alt"] = r.altitude, r.t
        alt = s["alt"] if r.t - s["t_alt"] <= max_age else math.nan
        if r.onground:
            if not math.isnan(r.groundspeed):
                out.append((r.icao24, r.t, r.latitude, r.longitude, alt, r.groundspeed, r.track, 0))
            continue
        if not (math.isnan(r.groundspeed) or math.isnan(r.track)):
            s.update(t_vel=r.t, gs=r.groundspeed, trk=r.track, vr=r.vertical_rate)
        if r.t - s["t_vel"] <= max_age:
            out.append((r.icao24, r.t, r.latitude, r.longitude, alt, s["gs"], s["trk"], s["vr"]))
    cols = ["id", "t", "lat", "lon", "alt", "gs", "trk", "vr"]
    return pd.DataFrame(out, columns=cols).sort_values(["id", "t"], kind="stable")


def _as_frame(batch: TrackBatch) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": batch.track_id,
            "t": batch.t,
            "lat": batch.lat,
            "lon": batch.lon,
            "alt": batch.alt_m / FT,
            "gs": batch.gs_mps / KT,
            "trk": batch.trk_deg,
            "vr": batch.vs_mps / FPM,
        }
    ).sort_values(["id", "t"], kind="stable")


def _same(got: pd.DataFrame, exp: pd.DataFrame) -> None:
    assert len(got) == len(exp)
    assert list(got["id"]) == list(exp["id"])
    assert np.allclose(got["t"], exp["t"], atol=1e-3)
    assert np.allclose(got["lat"], exp["lat"], atol=6e-6)
    assert np.allclose(got["lon"], exp["lon"], atol=6e-6)
    assert np.allclose(got["alt"], exp["alt"], atol=0.51, equal_nan=True)
    assert np.allclose(got["gs"], exp["gs"], atol=0.051, equal_nan=True)
    dtrk = (got["trk"].to_numpy() - exp["trk"].to_numpy() + 180.0) % 360.0 - 180.0
    assert np.all((np.abs(dtrk) <= 0.051) | np.isnan(exp["trk"].to_numpy()))
    assert np.allclose(got["vr"], exp["vr"], atol=0.51, equal_nan=True)


def test_derived_recording_through_tcp_matches_table(table: pd.DataFrame, derived: Path) -> None:
    data = derived.read_bytes()
    n_lines = data.count(b"\n")
    dec = SbsDecoder()
    batch, feed = through_tcp(dec, [pieces(data, seed=1, max_piece=3000)])
    c = dec.counters.snapshot()
    assert (c.messages, c.decoded, c.rejected, c.ignored) == (n_lines, n_lines, 0, 0)
    assert feed.health().messages == n_lines
    exp = _expected(table)
    assert len(exp) > 10_000
    _same(_as_frame(batch), exp)


def test_derived_recording_into_running_service(table: pd.DataFrame, derived: Path) -> None:
    exp = _expected(table)
    t_end = float(exp["t"].max())
    clock = Clock(t_end + 1.0)
    live, _ = into_service(SbsDecoder(), [pieces(derived.read_bytes(), seed=2)], clock)
    try:
        views = {v.track_id: v for v in live.picture("alpha")}
        last = exp.groupby("id").tail(1).set_index("id")
        recent = last[last["t"] > t_end - 20.0]
        assert len(recent) > 10
        for tid, e in recent.iterrows():
            v = views[tid]
            assert v.t == pytest.approx(e["t"], abs=1e-3)
            assert (v.lat, v.lon) == pytest.approx((e["lat"], e["lon"]), abs=6e-6)
            assert v.gs_mps == pytest.approx(e["gs"] * KT, abs=0.03)
        (st_,) = [f for f in live.feeds("alpha") if f.kind == "feed"]
        assert st_.error is None and st_.health.rejected == 0
    finally:
        live.stop()


def test_truncated_line_at_connection_break_is_dropped(derived: Path) -> None:
    lines = derived.read_bytes().split(b"\r\n")[:2000]
    first = b"\r\n".join(lines[:1000]) + b"\r\n" + lines[1000][:25]  # cut inside line 1001
    second = b"\r\n".join(lines[1001:]) + b"\r\n"
    dec = SbsDecoder()
    batch, feed = through_tcp(dec, [[first], [second]])
    assert feed.connections == 2
    c = dec.counters.snapshot()
    assert (c.messages, c.rejected) == (2000, 1)
    (rej,) = batch.rejects
    assert rej.index_or_line == 1001 and "truncated" in rej.reason
    clean = SbsDecoder()
    full = clean.feed(b"\r\n".join(lines) + b"\r\n", 0.0)
    assert len(full) - len(batch) <= 1  # only the cut line's own state can be missing


def test_times_logged_generated_receive_and_offset() -> None:
    gen, log = "2021/10/07,12:00:00.000", "2021/10/07,12:00:02.500"
    vel = f"MSG,4,1,1,4CA2D6,1,{gen},{log},,,420,90,,,-64,,0,0,0,0\n"
    pos = f"MSG,3,1,1,4CA2D6,1,{gen},{log},,35000,,,48.5,2.5,,,0,0,0,0\n"
    t_log = 1633608002.5
    for kw, t in (
        ({}, t_log),
        ({"time_source": "generated"}, t_log - 2.5),
        ({"time_source": "receive"}, 5e9),
        ({"utc_offset_s": 7200}, t_log - 7200),
    ):
        out = SbsDecoder(**kw).feed((vel + pos).encode(), 5e9)
        assert list(out.t) == [t], kw
        assert out.track_id[0] == "4ca2d6" and out.alt_m[0] == pytest.approx(35000 * FT)
        assert out.gs_mps[0] == pytest.approx(420 * KT)
        assert out.vs_mps[0] == pytest.approx(-64 * FPM)
    no_time = "MSG,3,1,1,4CA2D6,1,,,,,,35000,,,48.5,2.5,,,0,0,0,0\n"
    out = SbsDecoder(require_velocity=False).feed(no_time.encode(), 1234.5)
    assert list(out.t) == [1234.5] and math.isnan(out.gs_mps[0])


def test_merging_needs_fresh_velocity_and_keeps_identity() -> None:
    d = "2021/10/07"
    lines = [
        f"MSG,1,1,1,4CA2D6,1,{d},12:00:00.000,{d},12:00:00.000,RYR12A  ,,,,,,,,,,,0",
        f"MSG,6,1,1,4CA2D6,1,{d},12:00:00.000,{d},12:00:00.000,,35000,,,,,,7000,0,0,0,0",
        f"MSG,3,1,1,4CA2D6,1,{d},12:00:00.500,{d},12:00:00.500,,35000,,,48.5,2.5,,,0,0,0,0",
        f"MSG,4,1,1,4CA2D6,1,{d},12:00:01.000,{d},12:00:01.000,,,420,90,,,0,,0,0,0,0",
        f"MSG,3,1,1,4CA2D6,1,{d},12:00:01.500,{d},12:00:01.500,,,,,48.5,2.6,,,0,0,0,0",
        f"MSG,3,1,1,4CA2D6,1,{d},12:00:20.000,{d},12:00:20.000,,,,,48.5,2.7,,,0,0,0,0",
        "STA,,1,1,4CA2D6,1,2021/10/07,12:00:21.000,2021/10/07,12:00:21.000,RM",
        "",
    ]
    dec = SbsDecoder()
    out = dec.feed("\n".join(lines).encode(), 0.0)
    assert list(out.lon) == [2.6]  # the first position lacks a velocity, the last a fresh one
    assert out.alt_m[0] == pytest.approx(35000 * FT)
    assert dec.callsign("4ca2d6") == "RYR12A" and dec.squawk("4CA2D6") == "7000"
    c = dec.counters.snapshot()
    assert (c.messages, c.decoded, c.ignored, c.rejected) == (7, 6, 1, 0)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,1,,,95.0,2,,", "lat"),
        ("MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,1,,,45,abc,,", "lon"),
        ("MSG,4,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,,x,1,,,,", "speed"),
        ("MSG,3,1,1,XYZ,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,1,,,45,2,,", "hex"),
        ("MSG,3,1,1,4CA2D6,1,2021/13/07,12:00:00.000,2021/13/07,12:00:00.000,,1,,,45,2,,", "time"),
        ("MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,1,,", "fields"),
        ("MSG,9,1,1,4CA2D6,1,2021/10/07,12:00:00.000,2021/10/07,12:00:00.000,,,,", "type"),
        ("hello world", "message type"),
        ("MSG,3,1,1,4CA2D6", "fields"),
    ],
)
def test_bad_lines_are_rejected_naming_the_field(line: str, field: str) -> None:
    dec = SbsDecoder()
    out = dec.feed(f"{line}\r\n".encode(), 0.0)
    (rej,) = out.rejects
    assert field in rej.reason and rej.index_or_line == 1 and rej.raw == line
    assert dec.counters.rejected == 1
    with pytest.raises(InvalidInput, match="sbs"):
        SbsDecoder(on_invalid="raise").feed(f"{line}\n".encode(), 0.0)


def test_writer_refuses_a_table_without_positions() -> None:
    with pytest.raises(InvalidInput, match="latitude"):
        list(sbs_lines(pd.DataFrame({"timestamp": [1.0], "icao24": ["abc123"]})))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1500), cuts=st.lists(st.integers(0, 1500), max_size=5))
def test_random_bytes_never_raise_and_counts_add_up(data: bytes, cuts: list[int]) -> None:
    dec = SbsDecoder()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    out = [dec.feed(data[a:b], 0.0) for a, b in itertools.pairwise(bounds)]
    out.append(dec.flush(0.0))
    check_counts(dec, out)


_LINES: list[bytes] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(0, 10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=20),
    cut=st.integers(0, 10**6),
)
def test_mutated_real_lines_never_raise_and_counts_add_up(
    derived: Path, start: int, flips: list[tuple[int, int]], cut: int
) -> None:
    if not _LINES:
        _LINES.extend(derived.read_bytes().split(b"\r\n")[:5000])
    k = start % (len(_LINES) - 60)
    data = bytearray(b"\r\n".join(_LINES[k : k + 60]) + b"\r\n")
    for pos, val in flips:
        data[pos % len(data)] = val
    c = cut % len(data)
    dec = SbsDecoder()
    out = [dec.feed(bytes(data[:c]), 0.0), dec.feed(bytes(data[c:]), 0.0), dec.flush(0.0)]
    check_counts(dec, out)
    if not flips:
        assert dec.counters.snapshot().messages == 60 and dec.counters.rejected == 0


def test_silent_aircraft_are_forgotten() -> None:
    d = "2021/10/07"
    dec = SbsDecoder()
    dec.feed(
        f"MSG,1,1,1,4CA2D6,1,{d},12:00:00.000,{d},12:00:00.000,RYR12A,,,,,,,,,,,0\n".encode(), 0
    )
    assert dec.callsign("4ca2d6") == "RYR12A"
    dec.feed(f"MSG,1,1,1,4CA2D7,1,{d},12:09:00.000,{d},12:09:00.000,EZY1,,,,,,,,,,,0\n".encode(), 0)
    assert dec.callsign("4ca2d6") == "RYR12A"  # 9 min: still kept
    dec.feed(f"MSG,1,1,1,4CA2D7,1,{d},12:11:00.000,{d},12:11:00.000,EZY1,,,,,,,,,,,0\n".encode(), 0)
    assert dec.callsign("4ca2d6") is None and dec.callsign("4ca2d7") == "EZY1"
