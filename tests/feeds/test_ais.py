"""AIS NMEA: the real receiver logs through a TCP socket into a live service, checked against
pyais's own stream decoding of the same files; bad input, not-available values, tag blocks and
multi-sentence messages; property tests of the parser."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyais import encode_dict
from pyais.stream import FileReaderStream

from sharedsky.feeds.ais import AisDecoder
from sharedsky.feeds.decoding import Decoder
from sharedsky.feeds.net import TcpFeed
from tests.feeds.test_net import LoopbackServer, run_in_service
from tests.services.live_helpers import Clock

T0 = 1_795_608_000.0
KT = 1852.0 / 3600.0
FILES = [
    "gpsd_ais-nmea.log",
    "gpsd_ais-raw-messages.log",
    "gpsd_ais-18-27.log",
    "gpsd_sample.aivdm",
    "aisdb_test_data_20211101.nm4",
]
POSITION_TYPES = {1, 2, 3, 9, 18, 19, 27}


def pyais_states(path: Path, now: float) -> list[tuple]:
    """Independent decoding: pyais's file stream (its own reassembly and tag blocks)."""
    out = []
    for msg in FileReaderStream(str(path)):
        try:
            d = msg.decode()
        except Exception:  # pyais refuses some messages (e.g. type 24 part 3): not positions
            continue
        if d.msg_type not in POSITION_TYPES or d.lat is None:
            continue
        if abs(d.lat - 91) < 1e-3 or abs(d.lon - 181) < 1e-3:
            continue
        t = now
        if msg.tag_block is not None:
            msg.tag_block.init()
            if msg.tag_block.receiver_timestamp:
                t = float(msg.tag_block.receiver_timestamp)
        if d.msg_type == 9:
            alt = math.nan if d.alt >= 4095 else float(d.alt)
            gs = math.nan if d.speed >= 1023 else d.speed * KT
        else:
            alt = 0.0
            gs = math.nan if d.speed >= (63 if d.msg_type == 27 else 102.3) else d.speed * KT
        cog = math.nan if d.course >= 360 else d.course
        out.append((str(d.mmsi), t, round(d.lat, 6), round(d.lon, 6), alt, round(gs, 6), cog))
    return out


def rows(batch) -> list[tuple]:
    return [
        (
            batch.track_id[i],
            float(batch.t[i]),
            round(float(batch.lat[i]), 6),
            round(float(batch.lon[i]), 6),
            float(batch.alt_m[i]),
            round(float(batch.gs_mps[i]), 6),
            float(batch.trk_deg[i]),
        )
        for i in range(len(batch))
    ]


def same(a: list[tuple], b: list[tuple]) -> bool:
    key = [tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in r) for r in a]
    kb = [tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in r) for r in b]
    return sorted(key, key=str) == sorted(kb, key=str)


def chunked(data: bytes, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(1, 600)
        out.append(data[i : i + n])
        i += n
    return out


@pytest.mark.parametrize("name", FILES)
def test_real_log_over_tcp_into_the_live_service_matches_pyais(shared_dir: Path, name: str) -> None:
    path = shared_dir / "data" / "ais" / name
    data = path.read_bytes()
    server = LoopbackServer([chunked(data, 7)])
    clock = Clock(T0)
    decoder = AisDecoder()
    feed = TcpFeed("127.0.0.1", server.port, decoder, max_connections=1, clock=clock)
    live, rec = run_in_service(feed, clock)
    server.join()
    try:
        expected = pyais_states(path, T0)
        got = rec.states()
        assert len(got) > 0 and same(rows(got), expected)
        assert np.all(got.alt_m[~np.isnan(got.alt_m)] >= 0)
        # counts: every non-blank line is one message, and they add up
        c = decoder.counters.snapshot()
        lines = [ln for ln in data.split(b"\n") if ln.strip()]
        assert c.messages == len(lines) == c.decoded + c.rejected + c.ignored
        assert c.rejected >= len(rec.rejects())
        h = feed.health()
        assert (h.messages, h.decoded, h.rejected) == (c.messages, c.decoded, c.rejected)
        # the picture holds each vessel once, at one of the positions pyais gives for it
        by_id: dict[str, set] = {}
        for r in expected:
            by_id.setdefault(r[0], set()).add((r[2], r[3]))
        now = max(r[1] for r in expected)
        picture = live.picture("alpha", now=now)
        assert {v.track_id for v in picture} == set(by_id)
        for v in picture:
            assert (round(v.lat, 6), round(v.lon, 6)) in by_id[v.track_id]
    finally:
        live.stop()


def test_counts_and_reasons_on_the_real_logs(shared_dir: Path) -> None:
    d = AisDecoder()
    b = d.feed((shared_dir / "data" / "ais" / "gpsd_ais-nmea.log").read_bytes(), T0)
    b2 = d.flush(T0)
    reasons = [r.reason for r in b.rejects + b2.rejects]
    # three position reports with lat 91 / lon 181 ("not available") are rejects, not tracks
    assert reasons == ["lat/lon: position not available (91/181)"] * 3
    assert d.counters.snapshot().ignored > 1000  # the GPS sentences of the same log
    # type 5 (two sentences each) gave vessel names; compare with pyais
    names = {}
    for msg in FileReaderStream(str(shared_dir / "data" / "ais" / "gpsd_ais-nmea.log")):
        m = msg.decode()
        if m.msg_type in (5, 24) and getattr(m, "shipname", None):
            names[str(m.mmsi)] = m.shipname.strip(" @")
    assert d.names and d.names == {k: v for k, v in names.items() if v}


def test_not_available_speed_and_course_are_nan_and_position_rejected() -> None:
    s1 = encode_dict(
        {
            "type": 1,
            "mmsi": 244000001,
            "lat": 52.5,
            "lon": 5.1,
            "speed": 102.3,
            "course": 360,
            "accuracy": 1,
        }
    )[0]
    s2 = encode_dict({"type": 18, "mmsi": 244000002, "lat": 91, "lon": 181, "speed": 3.0})[0]
    s3 = encode_dict(
        {"type": 1, "mmsi": 244000003, "lat": 52.6, "lon": 5.2, "speed": 10.0, "course": 90.5}
    )[0]
    d = AisDecoder()
    b = d.feed(f"{s1}\r\n{s2}\r\n{s3}\r\n".encode(), T0)
    assert list(b.track_id) == ["244000001", "244000003"]
    assert math.isnan(b.gs_mps[0]) and math.isnan(b.trk_deg[0]) and b.pos_accuracy_m[0] == 10
    assert b.gs_mps[1] == pytest.approx(10 * KT) and b.trk_deg[1] == pytest.approx(90.5)
    assert list(b.alt_m) == [0.0, 0.0] and list(b.vs_mps) == [0.0, 0.0]
    assert [(r.index_or_line, r.reason) for r in b.rejects] == [
        (2, "lat/lon: position not available (91/181)")
    ]


def test_tag_blocks_checksums_and_fragments() -> None:
    def tag(body: str) -> str:
        c = 0
        for ch in body:
            c ^= ord(ch)
        return f"\\{body}*{c:02X}\\"

    one = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"
    five = encode_dict({"type": 5, "mmsi": 244000009, "shipname": "SHARED SKY"}, seq_id=3)
    assert len(five) == 2
    d = AisDecoder()
    text = "\n".join(
        [
            tag("s:r1,c:1635731889") + one,  # receive time from the tag block
            tag("s:r1,c:1635731889123") + one,  # milliseconds
            "\\s:r1,c:1*00\\" + one,  # bad tag block checksum
            one[:-2] + "4B",  # bad sentence checksum
            five[1],  # part 2 without its part 1
            five[0],
            five[1],  # a complete two-part type 5
            five[0],  # a part 1 whose part 2 never comes
            "$GPGGA,1,2,3*00",
            "",
        ]
    )
    b = d.feed(text.encode(), T0)
    assert list(b.t) == [1635731889.0, 1635731889.123]
    assert d.names == {"244000009": "SHARED SKY"}
    tail = d.flush(T0)
    reasons = [r.reason for r in b.rejects + tail.rejects]
    assert reasons == [
        "tag block: checksum mismatch",
        "checksum: mismatch",
        "fragment: part 2 of 2 out of order",
        "fragment: message incomplete at end of stream",
    ]
    c = d.counters.snapshot()
    assert (c.messages, c.decoded, c.rejected, c.ignored) == (9, 4, 4, 1)


def test_the_decoder_satisfies_the_protocol() -> None:
    assert isinstance(AisDecoder(), Decoder)


# -- properties -------------------------------------------------------------------------------
def _lines(data: bytes) -> int:
    return sum(1 for ln in data.split(b"\n") if ln.strip())


def _check(data: bytes, cuts: list[int]) -> None:
    d = AisDecoder()
    pos = sorted({min(c, len(data)) for c in cuts})
    prev = 0
    n_rejects = 0
    for p in [*pos, len(data)]:
        b = d.feed(data[prev:p], T0)
        n_rejects += len(b.rejects)
        c = d.counters.snapshot()
        assert c.messages == c.decoded + c.rejected + c.ignored
        prev = p
    b = d.flush(T0)
    n_rejects += len(b.rejects)
    c = d.counters.snapshot()
    assert c.messages == c.decoded + c.rejected + c.ignored == _lines(data)
    assert n_rejects <= c.rejected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1000), st.lists(st.integers(0, 1000), max_size=5))
def test_random_bytes_never_raise_and_counts_add_up(data: bytes, cuts: list[int]) -> None:
    _check(data, cuts)


_REAL: list[bytes] = []


def _real_lines(shared_dir: Path) -> list[bytes]:
    if not _REAL:
        root = shared_dir / "data" / "ais"
        for name in ("gpsd_ais-nmea.log", "aisdb_test_data_20211101.nm4"):
            _REAL.extend(ln for ln in (root / name).read_bytes().split(b"\n") if b"VDM" in ln)
    return _REAL


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
    st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 255), st.sampled_from("rdi")), max_size=6
    ),
    st.lists(st.integers(0, 1000), max_size=4),
)
def test_mutated_real_sentences_never_raise_and_counts_add_up(
    shared_dir: Path, picks: list[int], edits: list[tuple[int, int, str]], cuts: list[int]
) -> None:
    real = _real_lines(shared_dir)
    lines = [bytearray(real[k % len(real)]) for k in picks]
    for k, (pos, val, op) in enumerate(edits):
        ln = lines[k % len(lines)]
        i = pos % (len(ln) + 1)
        if op == "r" and i < len(ln):
            ln[i] = val
        elif op == "d" and i < len(ln):
            del ln[i]
        else:
            ln.insert(i, val)
    data = b"\n".join(bytes(ln)[:1000] for ln in lines) + b"\n"
    _check(data, cuts)
