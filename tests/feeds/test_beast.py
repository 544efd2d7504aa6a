"""Beast binary decoder: real recordings through a loopback TCP socket into the live service,
checked against pyModeS's own decoding of the same frames.

Data (../shared/data/adsb, see its README): ``traffic_sample_dump1090.beast.bin`` (239 frames
recorded by dump1090 near Toulouse, from the ``traffic`` package, MIT) and
``pymodes_sample_data_adsb.csv`` (2 000 DF17 frames of one aircraft, from pyModeS's tests,
GPL-3.0), which the tests wrap into Beast frames with :func:`beast_frame`.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pyModeS as pms
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyModeS._bits import crc_remainder

from sharedsky.errors import InvalidInput
from sharedsky.feeds.beast import BeastDecoder, beast_frame
from sharedsky.model.tracks import TrackBatch
from sharedsky.testing import ServerProcess, mint_token
from tests.feeds.adsb_helpers import Receiver, into_service, pieces, through_tcp
from tests.services.live_helpers import Clock

FT, KT, FPM = 0.3048, 1852.0 / 3600.0, 0.3048 / 60.0
LFBO = (43.629, 1.364)  # Toulouse-Blagnac: the dump1090 sample was recorded within 180 NM


def _adsb_csv(shared_dir: Path) -> list[tuple[float, str]]:
    with open(shared_dir / "data" / "adsb" / "pymodes_sample_data_adsb.csv") as f:
        return [(float(r[0]), r[1]) for r in csv.reader(f)]


def _wrap_each(frames: list[tuple[float, str]]) -> list[bytes]:
    """Beast frames of hex frames: the 12 MHz counter counts from the first frame's time."""
    t0 = frames[0][0]
    return [
        beast_frame(bytes.fromhex(h), round((t - t0) * 12e6) + k, signal=k % 256)
        for k, (t, h) in enumerate(frames)
    ]


def _wrap(frames: list[tuple[float, str]]) -> tuple[bytes, float]:
    return b"".join(_wrap_each(frames)), frames[0][0]


def _reference(frames: list[tuple[float, str]]) -> list[tuple]:
    """pyModeS's own decoding: (icao, t, lat, lon, alt_ft, gs_kt, trk, vr_fpm) for each airborne
    position frame, with the last velocity pyModeS decoded before it (within 10 s).

    PipeDecoder (pyModeS's streaming decoder) places the aircraft; it gives both halves of a CPR
    pair the pair's position, so each frame's own position is then decoded by ``pms.decode`` with
    PipeDecoder's position as the reference. PipeDecoder completes an early frame's result once
    the aircraft's first fixes agree, so results are read after the whole stream."""
    pipe = pms.PipeDecoder()
    vel: dict[str, tuple[float, float, float, float]] = {}
    seen = []
    for t, h in frames:
        r = pipe.decode(h, timestamp=t)
        one = pms.decode(h)
        assert one["crc_valid"]
        if one.get("typecode") == 19 and one.get("groundspeed") is not None:
            vel[one["icao"]] = (t, one["groundspeed"], one["track"], one["vertical_rate"])
        seen.append((t, h, r, one, vel.get(one["icao"])))
    out = []
    for t, h, r, one, v in seen:
        if r.get("latitude") is None or v is None or t - v[0] > 10.0:
            continue
        own = pms.decode(h, reference=(r["latitude"], r["longitude"]))
        out.append((r["icao"], t, own["latitude"], own["longitude"], one["altitude"], *v[1:]))
    return out


def _check_against(batch: TrackBatch, expected: list[tuple], min_share: float) -> None:
    """Every decoded state is one pyModeS gives for the same frame; most of them are decoded."""
    by_t: dict[float, list[tuple]] = {}
    for e in expected:
        by_t.setdefault(round(e[1], 3), []).append(e)
    matched = 0
    for k in range(len(batch)):
        cands = by_t.get(round(float(batch.t[k]), 3), [])
        hit = [
            e for e in cands if abs(e[2] - batch.lat[k]) < 1e-7 and abs(e[3] - batch.lon[k]) < 1e-7
        ]
        assert hit, f"state {k} at t={batch.t[k]} ({batch.lat[k]}, {batch.lon[k]}) not in pyModeS"
        e = hit[0]
        assert batch.track_id[k] == e[0].lower()
        assert batch.alt_m[k] == pytest.approx(e[4] * FT)
        assert batch.gs_mps[k] == pytest.approx(e[5] * KT)
        assert batch.trk_deg[k] == pytest.approx(e[6])
        assert batch.vs_mps[k] == pytest.approx(e[7] * FPM)
        matched += 1
    assert matched >= min_share * len(expected)


def test_pymodes_frames_through_tcp_match_pymodes(shared_dir: Path) -> None:
    frames = _adsb_csv(shared_dir)
    stream, t0 = _wrap(frames)
    dec = BeastDecoder(mlat_epoch=t0)
    batch, feed = through_tcp(dec, [pieces(stream, seed=1, max_piece=700)])
    c = dec.counters.snapshot()
    assert (c.messages, c.rejected) == (2000, 0)
    assert c.messages == c.decoded + c.rejected + c.ignored
    assert feed.health().messages == 2000
    expected = _reference(frames)
    assert len(expected) > 800
    # PipeDecoder holds an aircraft's first fixes until they agree; otherwise the same frames
    _check_against(batch, expected, min_share=0.97)
    assert len(batch) <= len(expected) + 10


def test_pymodes_frames_into_running_service(shared_dir: Path) -> None:
    frames = _adsb_csv(shared_dir)
    stream, t0 = _wrap(frames)
    clock = Clock(frames[-1][0] + 1.0)
    live, _feed = into_service(BeastDecoder(mlat_epoch=t0), [pieces(stream, seed=2)], clock)
    try:
        views = live.picture("alpha")
        expected = _reference(frames)[-1]
        assert [v.track_id for v in views] == ["406b90"]
        v = views[0]
        assert v.t == pytest.approx(expected[1], abs=1e-3)  # counter ticks added per frame
        assert (v.lat, v.lon) == pytest.approx(expected[2:4], abs=1e-7)
        assert v.alt_m == pytest.approx(expected[4] * FT)
        assert v.gs_mps == pytest.approx(expected[5] * KT)
        (st_,) = [f for f in live.feeds("alpha") if f.kind == "feed"]
        assert st_.health.messages == 2000 and st_.health.rejected == 0
        assert st_.error is None
    finally:
        live.stop()


def test_dump1090_recording_through_tcp(shared_dir: Path) -> None:
    data = (shared_dir / "data" / "adsb" / "traffic_sample_dump1090.beast.bin").read_bytes()
    dec = BeastDecoder()
    now = 1_795_608_000.0
    batch, _ = through_tcp(dec, [pieces(data, seed=3, max_piece=50)], clock=lambda: now)
    c = dec.counters.snapshot()
    assert c.messages == 239 and c.rejected == 0
    assert c.messages == c.decoded + c.rejected + c.ignored
    # independent: each airborne position frame decoded by pyModeS against a fixed reference
    # (the airport), each state carrying the latest velocity pyModeS decodes before it
    pos, vel, alt, ident = [], {}, {}, {}
    states = []
    for frame in _frames_of(data):
        h = frame.hex()
        if len(frame) != 14:
            continue
        r = pms.decode(h, reference=LFBO)
        if r.get("df") != 17:
            continue
        if 1 <= (r.get("typecode") or 0) <= 4:
            ident[r["icao"].lower()] = r["callsign"].strip("_ #")
        if r.get("typecode") == 19:
            vel[r["icao"]] = (r["groundspeed"], r["track"], r["vertical_rate"])
        elif r.get("latitude") is not None:
            pos.append((r["icao"], r["latitude"], r["longitude"]))
            alt[r["icao"]] = r["altitude"]
            if r["icao"] in vel:
                states.append(
                    (r["icao"], r["latitude"], r["longitude"], r["altitude"], vel[r["icao"]])
                )
    assert len(pos) == 4
    assert len(batch) == 3  # the first airborne position needs its pair; three follow
    for k in range(len(batch)):
        icao, lat, lon, alt_ft, (gs, trk, vr) = states[k - len(batch)]
        assert batch.track_id[k] == icao.lower()
        assert (batch.lat[k], batch.lon[k]) == pytest.approx((lat, lon), abs=1e-7)
        assert batch.alt_m[k] == pytest.approx(alt_ft * FT)
        assert batch.vs_mps[k] == pytest.approx(vr * FPM)
        assert batch.gs_mps[k] == pytest.approx(gs * KT)
        assert batch.trk_deg[k] == pytest.approx(trk)
    assert np.all(batch.t <= now) and np.all(batch.t > now - 60.0)
    assert ident and all(dec.callsign(i) == cs for i, cs in ident.items())


def _frames_of(data: bytes) -> list[bytes]:
    """Independent minimal Beast splitter for the test: unescape, then cut by type length."""
    out, i = [], 0
    lengths = {0x31: 2, 0x32: 7, 0x33: 14}
    while i < len(data):
        assert data[i] == 0x1A
        n = 7 + lengths[data[i + 1]]
        body, j = bytearray(), i + 2
        while len(body) < n:
            body.append(data[j])
            j += 2 if data[j] == 0x1A else 1
        out.append(bytes(body[7:]))
        i = j
    return out


def test_truncated_frame_at_connection_break_is_dropped(shared_dir: Path) -> None:
    frames = _adsb_csv(shared_dir)[:400]
    stream, t0 = _wrap(frames)
    each = _wrap_each(frames)
    first = b"".join(each[:200]) + each[200][:9]  # the break comes 9 bytes into frame 201
    second = b"".join(each[201:])
    dec = BeastDecoder(mlat_epoch=t0)
    batch, feed = through_tcp(dec, [[first], [second]])
    assert feed.connections == 2
    c = dec.counters.snapshot()
    assert c.rejected == 1 and c.messages == 400  # 200 + the cut one + 199 after the break
    assert batch.rejects and "truncated" in batch.rejects[0].reason
    clean = BeastDecoder(mlat_epoch=t0)
    full = TrackBatch.concat([clean.feed(stream, 0.0), clean.flush(0.0)])
    lost = {round(float(x), 4) for x in full.t} - {round(float(x), 4) for x in batch.t}
    assert len(lost) <= 2  # the cut frame's own state (and at most one that needed it)
    assert batch.t[-1] == full.t[-1]


def test_frame_cut_by_next_frame_is_rejected_and_next_decoded() -> None:
    a = beast_frame(bytes.fromhex("8D406B902015A678D4D220AA4BDA"), 5)
    b = beast_frame(bytes.fromhex("8D406B909945DE10000405999BE4"), 6)
    dec = BeastDecoder()
    out = dec.feed(a[:10] + b + a, 100.0)
    c = dec.counters.snapshot()
    assert (c.messages, c.rejected) == (3, 1)
    assert "truncated" in out.rejects[0].reason
    assert dec.callsign("406b90") == "EZY85MH"


def test_escapes_round_trip_and_bad_crc_rejected() -> None:
    msg = bytes.fromhex("8D406B902015A678D4D220AA4BDA")
    f = beast_frame(msg, counter=0x1A1A1A1A1A1A, signal=0x1A)
    assert f.count(b"\x1a\x1a") == 7
    dec = BeastDecoder()
    for k in range(len(f)):  # one byte at a time
        assert not dec.feed(f[k : k + 1], 0.0).rejects
    assert dec.counters.decoded == 1 and dec.callsign("406B90") == "EZY85MH"
    bad = bytearray(msg)
    bad[6] ^= 0x01
    out = dec.feed(beast_frame(bytes(bad)), 0.0)
    assert out.rejects and out.rejects[0].reason.startswith("crc")
    with pytest.raises(InvalidInput, match="message"):
        beast_frame(b"\x00" * 5)
    with pytest.raises(InvalidInput, match="on_invalid"):
        BeastDecoder(on_invalid="ignore")


def _check_invariants(dec: BeastDecoder, batches: list[TrackBatch]) -> None:
    c = dec.counters.snapshot()
    assert c.messages == c.decoded + c.rejected + c.ignored
    assert sum(len(b.rejects) for b in batches) == c.rejected
    for b in batches:
        assert np.all(np.abs(b.lat) <= 90.0) and np.all(np.abs(b.lon) <= 180.0)
        assert np.all(np.isfinite(b.t))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=6))
def test_random_bytes_never_raise_and_counts_add_up(data: bytes, cuts: list[int]) -> None:
    dec = BeastDecoder()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    out = [dec.feed(data[a:b], 1000.0) for a, b in itertools.pairwise(bounds)]
    out.append(dec.flush(1000.0))
    _check_invariants(dec, out)


_REAL: list[bytes] = []


def _real_stream(shared_dir: Path) -> bytes:
    if not _REAL:
        _REAL.append(_wrap(_adsb_csv(shared_dir)[:300])[0])
        _REAL.append((shared_dir / "data/adsb/traffic_sample_dump1090.beast.bin").read_bytes())
    return _REAL[0] + _REAL[1]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), max_size=40),
    cut=st.integers(0, 10**9),
)
def test_mutated_real_frames_never_raise_and_counts_add_up(
    shared_dir: Path, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(_real_stream(shared_dir))
    for pos, val in flips:
        data[pos % len(data)] = val
    k = cut % len(data)
    dec = BeastDecoder()
    out = [dec.feed(bytes(data[:k]), 1000.0), dec.feed(bytes(data[k:]), 1000.0)]
    out.append(dec.flush(1000.0))
    _check_invariants(dec, out)
    if not flips:
        assert dec.counters.rejected == 0


def test_silent_aircraft_are_forgotten() -> None:
    ident = bytes.fromhex("8D406B902015A678D4D220AA4BDA")
    vel = bytes.fromhex("8D485020994409940838175B284F")  # another aircraft's velocity
    dec = BeastDecoder(mlat_epoch=0.0)
    dec.feed(beast_frame(ident, 0), 0.0)
    dec.feed(beast_frame(vel, 12_000_000 * 540), 0.0)
    assert dec.callsign("406b90") == "EZY85MH"
    dec.feed(beast_frame(vel, 12_000_000 * 660), 0.0)
    assert dec.callsign("406b90") is None


@pytest.mark.slow
def test_configured_beast_feed_in_sharedsky_serve(shared_dir: Path, tmp_path: Path) -> None:
    """The two lines of docs/feeds-adsb.md: a live configuration with a Beast feed, and
    ``sharedsky serve``; the server connects to the receiver and the track is in the picture."""
    frames = _adsb_csv(shared_dir)
    stream, _ = _wrap(frames)
    rx = Receiver([pieces(stream, seed=4, max_piece=2000)])
    cfg = tmp_path / "live.json"
    feed = {"type": "beast", "tcp": f"127.0.0.1:{rx.port}"}
    cfg.write_text(json.dumps({"parties": {"alpha": {"feeds": [feed]}}}))
    certs = shared_dir / "spec" / "test-certs"
    token = mint_token(
        (certs / "auth2.key").read_bytes(), sub="alpha", scopes=["sharedsky.picture.read"]
    )
    env = {"SHAREDSKY_LIVE_CONFIG": str(cfg)}
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    last = _reference(frames)[-1]
    with ServerProcess(db, [certs / "auth2.pem"], env=env) as server:
        rx.join()
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 30.0
        tracks: list[dict] = []
        while time.monotonic() < deadline:
            r = httpx.get(f"{server.url}/live/v1/picture", headers=headers)
            assert r.status_code == 200, r.text
            tracks = r.json()["tracks"]
            if tracks and tracks[0]["lat"] == pytest.approx(last[2], abs=1e-7):
                break
            time.sleep(0.2)
        assert [t["track_id"] for t in tracks] == ["406b90"]
        assert (tracks[0]["lat"], tracks[0]["lon"]) == pytest.approx(last[2:4], abs=1e-7)
        assert tracks[0]["gs_mps"] == pytest.approx(last[5] * KT)
    assert "Traceback" not in server.output()


def _with_crc(body: int) -> bytes:
    """A 112-bit DF17 message: ``body`` (88 bits: DF, CA, address, ME) and its parity."""
    n = body << 24
    return (n | crc_remainder(n, 112)).to_bytes(14, "big")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    me=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, (1 << 56) - 1), st.integers(0, 10**8)),
        min_size=1,
        max_size=40,
    )
)
def test_random_payloads_with_valid_crc_never_raise(me: list[tuple[int, int, int]]) -> None:
    """Past the CRC: random ADS-B payloads of three aircraft (any type code, CPR, velocity)."""
    frames = b"".join(
        beast_frame(_with_crc((0x8D << 80) | ((0x406B90 + a) << 56) | payload), counter)
        for a, payload, counter in sorted(me, key=lambda x: x[2])
    )
    dec = BeastDecoder(mlat_epoch=0.0)
    out = [dec.feed(frames, 0.0), dec.flush(0.0)]
    _check_invariants(dec, out)
    assert dec.counters.rejected == 0
