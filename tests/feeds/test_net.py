"""Transports on real loopback sockets: reconnection with backoff, health, a frame cut by a
connection break, UDP datagrams, file polls and raw/pcap replays.

Also home of the helpers the AIS and ASTERIX tests share (a scripted loopback TCP server, a
recording pass-through feed, running a feed inside a live service with a fake clock).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sharedsky.cli import _register, app
from sharedsky.errors import InvalidInput
from sharedsky.feeds.ais import AisDecoder
from sharedsky.feeds.base import Feed, FeedHealth
from sharedsky.feeds.net import (
    FeedSpec,
    FileReplayFeed,
    HttpPollFeed,
    ReplayProgress,
    TcpFeed,
    UdpFeed,
    make_decoder,
    open_feed,
    parse_address,
    read_pcap,
)
from sharedsky.model.tracks import TrackBatch
from sharedsky.services.live import LiveConfig, LiveService
from sharedsky.testing import ServerProcess, mint_token
from tests.services.live_helpers import Clock

T0 = 1_795_608_000.0

# Two real single-sentence position reports (from gpsd's test/sample.aivdm, BSD-2-Clause) and a
# type 5 in two parts; their decodings are checked against pyais in test_ais.py.
POS_A = b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\r\n"
POS_B = b"!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0*42\r\n"


# -- helpers shared with test_ais / test_asterix ------------------------------------------------
class LoopbackServer:
    """A TCP server on 127.0.0.1 that plays one scripted session per accepted connection.

    ``sessions[k]`` is the list of byte strings sent on the k-th connection before closing it.
    ``accepted`` holds the monotonic time of each accept.
    """

    def __init__(self, sessions: list[list[bytes]], pause_s: float = 0.0) -> None:
        self.sessions = sessions
        self.pause_s = pause_s
        self.accepted: list[float] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self._sock.settimeout(10)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunks in self.sessions:
                conn, _ = self._sock.accept()
                self.accepted.append(time.monotonic())
                with conn:
                    for c in chunks:
                        conn.sendall(c)
                        if self.pause_s:
                            time.sleep(self.pause_s)
        except OSError:
            pass
        finally:
            self._sock.close()

    def join(self) -> None:
        self._thread.join(timeout=10)


class Recording:
    """A pass-through feed that keeps a copy of every batch it forwards (the test's view of
    what the service was given)."""

    def __init__(self, inner: Feed) -> None:
        self.inner = inner
        self.name = inner.name
        self.seen: list[TrackBatch] = []

    def batches(self) -> Iterator[TrackBatch]:
        for b in self.inner.batches():
            self.seen.append(b)
            yield b

    def health(self) -> FeedHealth:
        return self.inner.health()

    def states(self) -> TrackBatch:
        return TrackBatch.concat(self.seen)

    def rejects(self) -> list:
        return [r for b in self.seen for r in b.rejects]


def run_in_service(feed: Feed, clock: Clock, party: str = "alpha") -> tuple[LiveService, Recording]:
    """Attach ``feed`` to a live service with a fake clock and wait until the feed ends."""
    live = LiveService(None, LiveConfig(drop_after_s=1e9, silence_after_s=1e9), clock)
    rec = Recording(feed)
    live.attach_feed(party, rec)
    for thread in live.inputs.feed_threads():
        thread.join(timeout=30)
        assert not thread.is_alive(), "feed did not end"
    errors = [f.error for f in live.feeds(party) if f.error is not None]
    assert not errors, errors
    return live, rec


# -- TCP ------------------------------------------------------------------------------------
def test_tcp_reconnects_with_backoff_and_drops_a_sentence_cut_by_the_break() -> None:
    cut = len(POS_B) // 2
    server = LoopbackServer([[POS_A, POS_B[:cut]], [POS_B[cut:] + POS_B]])
    clock = Clock(T0)
    feed = TcpFeed(
        "127.0.0.1",
        server.port,
        AisDecoder(),
        backoff=(0.05, 0.2),
        poll_s=0.05,
        max_connections=2,
        clock=clock,
    )
    live, rec = run_in_service(feed, clock)
    server.join()
    live.stop()
    assert feed.connections == 2 and feed.waits == [0.05]
    assert server.accepted[1] - server.accepted[0] >= 0.045
    states = rec.states()
    # first connection: POS_A; the half of POS_B at the break is dropped; on the second
    # connection the other half (no '!' start) is rejected and the full POS_B decoded
    assert list(states.track_id) == ["371798000", "440348000"]
    reasons = [r.reason for r in rec.rejects()]
    assert reasons == [
        "line: truncated at end of stream",
        "sentence: does not start with '!' or '$'",
    ]
    h = feed.health()
    assert (h.connected, h.messages, h.decoded, h.rejected) == (False, 4, 2, 2)
    assert h.last_message_age_s is not None and h.last_message_age_s < 10
    assert {v.track_id for v in live.picture("alpha", now=T0)} == {"371798000", "440348000"}


def test_tcp_backoff_doubles_up_to_the_maximum_while_refused() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: every connection is refused
    feed = TcpFeed("127.0.0.1", port, AisDecoder(), backoff=(0.01, 0.04), max_connections=5)
    t = time.monotonic()
    assert list(feed.batches()) == []
    assert feed.waits == [0.01, 0.02, 0.04, 0.04]
    assert time.monotonic() - t >= 0.1
    h = feed.health()
    assert (h.connected, h.messages, h.last_message_age_s) == (False, 0, None)
    assert feed.connections == 0


def test_tcp_stop_ends_a_quiet_connection() -> None:
    server = LoopbackServer([[POS_A]], pause_s=3.0)  # keeps the connection open, quiet
    feed = TcpFeed("127.0.0.1", server.port, AisDecoder(), poll_s=0.05)
    got: list[TrackBatch] = []

    def run() -> None:
        got.extend(feed.batches())

    th = threading.Thread(target=run)
    th.start()
    deadline = time.monotonic() + 5
    while feed.health().decoded < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.health().connected is True
    feed.stop()
    th.join(timeout=2)
    assert not th.is_alive()
    assert [list(b.track_id) for b in got] == [["371798000"]]


# -- UDP ------------------------------------------------------------------------------------
def test_udp_datagrams_without_final_newline_are_whole_sentences() -> None:
    clock = Clock(T0)
    feed = UdpFeed("127.0.0.1", 0, AisDecoder(), poll_s=0.05, clock=clock)
    host, port = feed.address
    got: list[TrackBatch] = []
    th = threading.Thread(target=lambda: got.extend(feed.batches()))
    th.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(POS_A.strip(), (host, port))
        tx.sendto(b"\x00\xffgarbage", (host, port))
        tx.sendto(POS_B, (host, port))
        deadline = time.monotonic() + 5
        while feed.health().messages < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    feed.stop()
    th.join(timeout=2)
    states = TrackBatch.concat(got)
    assert list(states.track_id) == ["371798000", "440348000"]
    assert np.all(states.t == T0)
    h = feed.health()
    assert (h.messages, h.decoded, h.rejected, h.connected) == (3, 2, 1, False)
    assert feed.datagrams == 3


def test_udp_bind_failure_names_the_field() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(InvalidInput, match="udp"):
            UdpFeed("203.0.113.1", 9, AisDecoder())  # not a local address


# -- polls and replays ----------------------------------------------------------------------
def test_file_poll_reads_each_document_whole(tmp_path: Path) -> None:
    p = tmp_path / "ais.txt"
    p.write_bytes(POS_A + POS_B[:20])  # the truncated tail is dropped at each poll
    feed = HttpPollFeed(p, AisDecoder(), interval_s=0.01, max_polls=3)
    got = list(feed.batches())
    assert [list(b.track_id) for b in got] == [["371798000"]] * 3
    assert [r.reason for b in got for r in b.rejects] == ["line: truncated at end of stream"] * 3
    missing = HttpPollFeed(tmp_path / "nope.json", AisDecoder(), interval_s=0.01, max_polls=2)
    assert list(missing.batches()) == [] and missing.health().connected is False


def test_raw_replay_paces_and_retimes(tmp_path: Path) -> None:
    p = tmp_path / "tagged.nm4"
    lines = []
    for k, body in enumerate([POS_A, POS_B, POS_A]):
        tag = f"c:{1_600_000_000 + 10 * k}".encode()
        chk = 0
        for b in tag:
            chk ^= b
        lines.append(b"\\" + tag + b"*%02X\\" % chk + body)
    p.write_bytes(b"".join(lines))
    clock = Clock(T0)
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    seen: list[ReplayProgress] = []
    feed = FileReplayFeed(
        p,
        AisDecoder(),
        speed=10.0,
        chunk=len(lines[0]),
        clock=clock,
        sleep=sleep,
        progress=seen.append,
    )
    states = TrackBatch.concat(list(feed.batches()))
    # data times 0, 10, 20 s at 10x -> wall times T0, T0+1, T0+2
    assert list(states.t) == [T0, T0 + 1.0, T0 + 2.0]
    assert slept == pytest.approx([1.0, 1.0])
    assert seen[-1].done == seen[-1].total == sum(map(len, lines))
    with pytest.raises(InvalidInput, match="file"):
        FileReplayFeed(tmp_path / "none", AisDecoder())


def test_pcap_reader_classic_and_pcapng(shared_dir: Path, tmp_path: Path) -> None:
    data = (shared_dir / "data" / "asterix" / "croatiacontrol_asterix.pcap").read_bytes()
    packets = list(read_pcap(data))
    assert len(packets) == 100
    assert all(p[0] == 62 and struct.unpack(">H", p[1:3])[0] == len(p) for _, p in packets)
    assert packets[0][0] == pytest.approx(1210855665.763759)
    # the same packets written as pcapng (SHB, IDB with microsecond resolution, EPBs)
    link = struct.unpack("<I", data[20:24])[0]
    frames = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        frames.append((sec * 1_000_000 + usec, data[off + 16 : off + 16 + incl]))
        off += 16 + incl

    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    ng = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    ng += block(1, struct.pack("<HHI", link, 0, 65535))
    for ts, fr in frames:
        ng += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(fr), len(fr)) + fr)
    assert list(read_pcap(ng)) == [(pytest.approx(t), p) for t, p in packets]
    with pytest.raises(InvalidInput, match="file"):
        list(read_pcap(b"not a capture"))


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:10110") == ("127.0.0.1", 10110)
    assert parse_address("[::1]:30003") == ("::1", 30003)
    assert parse_address(":4000") == ("0.0.0.0", 4000)
    for bad in ("nohost", "h:port", "h:70000"):
        with pytest.raises(InvalidInput, match="tcp"):
            parse_address(bad, "tcp")


# -- configuration and the command line -----------------------------------------------------
def test_feed_specs_validate_and_name_the_field(tmp_path: Path) -> None:
    spec = FeedSpec.from_dict({"type": "ais", "tcp": "127.0.0.1:10110"}, "f")
    assert (spec.type, spec.source, spec.address) == ("ais", "tcp", "127.0.0.1:10110")
    rel = FeedSpec.from_dict({"type": "asterix", "file": "x.pcap", "speed": 0}, "f", tmp_path)
    assert rel.address == str(tmp_path / "x.pcap") and rel.speed == 0
    bad = [
        ({"type": "nmea", "tcp": "h:1"}, "f.type"),
        ({"type": "ais"}, "f: needs exactly one"),
        ({"type": "ais", "tcp": "h:1", "udp": "h:2"}, "f: needs exactly one"),
        ({"type": "ais", "tcp": "h:x"}, "f.tcp"),
        ({"type": "ais", "file": "a", "speed": -1}, "f.speed"),
        ({"type": "ais", "url": "http://h", "interval_s": 0}, "f.interval_s"),
        ({"type": "ais", "udp": ":1", "port": 3}, "unknown key"),
        ("ais", "f: must be an object"),
    ]
    for doc, msg in bad:
        with pytest.raises(InvalidInput, match=re.escape(msg)):
            FeedSpec.from_dict(doc, "f")
    cfg = LiveConfig.from_dict(
        {"parties": {"alpha": {"feeds": [{"type": "ais", "udp": "127.0.0.1:0"}]}}}
    )
    assert cfg.parties["alpha"].feeds == (FeedSpec("ais", "udp", "127.0.0.1:0"),)
    with pytest.raises(InvalidInput, match=re.escape("parties.alpha.feeds[0].type")):
        LiveConfig.from_dict({"parties": {"alpha": {"feeds": [{"type": "x", "tcp": "h:1"}]}}})
    feed = open_feed(FeedSpec("ais", "udp", "127.0.0.1:0"))
    assert isinstance(feed, UdpFeed) and feed.decoder.name == "ais"
    feed.stop()
    list(feed.batches())  # ends at once, closes the socket


def _picture_ids(url: str, key: bytes, party: str) -> set[str]:
    token = mint_token(key, sub=party, scopes=["sharedsky.picture.read"])
    r = httpx.get(
        f"{url}/live/v1/picture", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    return {t["track_id"] for t in r.json()["tracks"] if t["party"] == party}


@pytest.mark.slow
def test_serve_runs_configured_feeds_and_the_feed_command_pushes(
    shared_dir: Path, tmp_path: Path
) -> None:
    """A live configuration names an AIS receiver on a loopback port; ``sharedsky serve``
    connects to it. ``sharedsky feed`` decodes an ASTERIX capture locally and pushes it for a
    second party. Both pictures hold exactly the independently decoded identities."""
    from pyais.stream import FileReaderStream

    ais_path = shared_dir / "data" / "ais" / "gpsd_ais-raw-messages.log"
    receiver = LoopbackServer([[ais_path.read_bytes()]])
    cfg = tmp_path / "live.json"
    cfg.write_text(
        json.dumps(
            {
                "parties": {
                    "alpha": {"feeds": [{"type": "ais", "tcp": f"127.0.0.1:{receiver.port}"}]}
                }
            }
        )
    )
    mmsis = set()
    for msg in FileReaderStream(str(ais_path)):
        d = msg.decode()
        if d.msg_type in (1, 2, 3, 18, 19) and abs(d.lat - 91) > 1e-3:
            mmsis.add(str(d.mmsi))
    certs = shared_dir / "spec" / "test-certs"
    key = (certs / "auth2.key").read_bytes()
    capture = shared_dir / "data" / "asterix" / "croatiacontrol_cat_062_065.pcap"
    with ServerProcess(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        [certs / "auth2.pem"],
        env={"SHAREDSKY_LIVE_CONFIG": str(cfg)},
    ) as server:
        deadline = time.monotonic() + 30
        while _picture_ids(server.url, key, "alpha") != mmsis and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _picture_ids(server.url, key, "alpha") == mmsis, server.output()
        _register()
        result = CliRunner().invoke(
            app,
            [
                "feed",
                "asterix",
                str(capture),
                "--server",
                server.url,
                "--party",
                "bravo",
                "--key",
                str(certs / "auth2.key"),
                "--speed",
                "0",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "2 decoded, 0 rejected" in result.output
        assert _picture_ids(server.url, key, "bravo") == {"4ca7a8", "4cac7f"}
    receiver.join()


def test_feed_command_decodes_only_without_a_server(shared_dir: Path) -> None:
    _register()
    path = shared_dir / "data" / "ais" / "gpsd_ais-nmea.log"
    result = CliRunner().invoke(app, ["feed", "ais", str(path), "--speed", "0"])
    assert result.exit_code == 0, result.output
    assert "1500 messages, 174 decoded, 3 rejected" in result.output
    assert "3 rejected: lat/lon: position not available (91/181)" in result.output
    result = CliRunner().invoke(app, ["feed", "nmea", str(path)])
    assert result.exit_code != 0


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([0, 24, 40, 200]), st.integers(0, 255))
def test_pcap_reader_never_raises_on_damaged_captures(
    shared_dir: Path, noise: bytes, keep: int, flip: int
) -> None:
    """A damaged capture yields what it can and stops; only a bad magic is an error."""
    real = (shared_dir / "data" / "asterix" / "croatiacontrol_cat_062_065.pcap").read_bytes()
    data = bytearray(real[: max(keep, 4)] + noise)
    if len(data) > 30:
        data[30] ^= flip  # inside the first record header
    for blob in (bytes(data), b"\x0a\x0d\x0d\x0a" + noise):
        for t, payload in read_pcap(blob):
            assert isinstance(t, float) and isinstance(payload, bytes)


def test_pcap_replay_is_paced_by_capture_times(shared_dir: Path) -> None:
    capture = shared_dir / "data" / "asterix" / "croatiacontrol_asterix.pcap"
    times = [t for t, _ in read_pcap(capture.read_bytes())]
    clock = Clock(T0)
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    feed = FileReplayFeed(capture, make_decoder("asterix"), speed=2.0, clock=clock, sleep=sleep)
    batches = list(feed.batches())
    assert sum(len(b.rejects) for b in batches) == 482  # see test_asterix: all rejected
    assert sum(slept) == pytest.approx((times[-1] - times[0]) / 2.0)
    assert feed.health().messages == 482 and feed.health().connected is False


def test_beast_file_replay_is_paced_by_the_mlat_counter(shared_dir: Path) -> None:
    recording = shared_dir / "data" / "adsb" / "traffic_sample_dump1090.beast.bin"
    spec = FeedSpec.from_dict({"type": "beast", "file": str(recording), "speed": 4})
    feed = open_feed(spec)
    assert isinstance(feed, FileReplayFeed)
    assert getattr(feed.decoder, "mlat_epoch", None) == 0.0
    # the recording's own timing: the MLAT counter of the decoded positions
    direct = make_decoder("beast", mlat_epoch=0.0)
    states = direct.feed(recording.read_bytes(), now=T0)
    span = float(states.t.max() - states.t.min())
    assert span > 1.0

    clock = Clock(T0)
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(s)

    paced = FileReplayFeed(
        recording, make_decoder("beast", mlat_epoch=0.0), speed=4.0, clock=clock, sleep=sleep
    )
    replayed = [b for b in paced.batches() if len(b)]
    assert sum(len(b) for b in replayed) == len(states)
    assert sum(slept) == pytest.approx(span / 4.0, abs=0.5)
