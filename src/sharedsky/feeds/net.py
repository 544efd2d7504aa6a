"""Transports: bytes from a TCP stream, UDP datagrams, an HTTP/file poll or a recording, handed
to a :class:`~sharedsky.feeds.decoding.Decoder`; each is a :class:`~sharedsky.feeds.base.Feed`.

* :class:`TcpFeed` — connects to a receiver's port (readsb 30003/30005, an AIS receiver),
  reconnecting with exponential backoff after a refused connection, a reset or a close; at a
  connection break the decoder is flushed (a truncated frame is dropped and counted), so the
  next connection starts clean;
* :class:`UdpFeed` — binds a local port and decodes each datagram (ASTERIX, AIS over UDP);
* :class:`HttpPollFeed` — polls a readsb/dump1090 ``aircraft.json`` from a file or URL;
* :class:`FileReplayFeed` — replays a raw recording through the same decoder at real or N×
  speed: text or binary streams (AIS NMEA, SBS, Beast, ASTERIX ``.ast``) and pcap/pcapng
  captures (the UDP payloads of each packet, paced by the capture times).

Health (:meth:`health`): ``connected``, the decoder's ``messages``/``decoded``/``rejected`` and
the age of the last bytes received. Bad input never stops a feed: decoders turn it into
rejects; transport errors are logged (rate-limited) and retried. :meth:`stop` ends
``batches()`` within about ``poll_s`` seconds (default 0.5).

pcap/pcapng records are read by :func:`read_pcap` (own reader: classic pcap in either byte
order with micro- or nanosecond times, pcapng enhanced/simple packet blocks; link types
Ethernet (with VLAN tags), raw IPv4/IPv6, Linux cooked v1/v2 and BSD loopback; IPv4 fragments
other than the first are skipped).
"""

from __future__ import annotations

import importlib
import logging
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharedsky.errors import InvalidInput
from sharedsky.feeds.base import FeedHealth
from sharedsky.feeds.decoding import Decoder, RateLimitedLog
from sharedsky.model.tracks import TrackBatch

__all__ = [
    "DECODERS",
    "FeedSpec",
    "FileReplayFeed",
    "HttpPollFeed",
    "ReplayProgress",
    "TcpFeed",
    "UdpFeed",
    "is_pcap",
    "make_decoder",
    "open_feed",
    "parse_address",
    "read_pcap",
]

log = logging.getLogger(__name__)


def parse_address(text: str, field: str = "address") -> tuple[str, int]:
    """``"host:port"`` (``"[v6]:port"`` too) -> (host, port); :class:`InvalidInput` otherwise."""
    if not isinstance(text, str) or ":" not in text:
        raise InvalidInput(f"expected 'host:port', got {text!r}", field)
    host, _, port_s = text.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_s)
    except ValueError:
        raise InvalidInput(f"port {port_s!r} is not a number", field) from None
    if not 0 <= port <= 65535:
        raise InvalidInput(f"port {port} outside 0..65535", field)
    return host, port


def _feed_datagram(decoder: Decoder, data: bytes, now: float) -> TrackBatch:
    fd = getattr(decoder, "feed_datagram", None)
    if fd is not None:
        result: TrackBatch = fd(data, now)
        return result
    return decoder.feed(data, now)


def _worth(batch: TrackBatch) -> bool:
    return len(batch) > 0 or bool(batch.rejects)


class _Base:
    """Shared state of the transports: decoder, stop flag, health."""

    def __init__(self, decoder: Decoder, name: str, clock: Callable[[], float]) -> None:
        if not hasattr(decoder, "feed") or not hasattr(decoder, "counters"):
            raise InvalidInput("does not implement the Decoder protocol", "decoder")
        self.decoder = decoder
        self.name = name
        self._clock = clock
        self._stop = threading.Event()
        self._connected = False
        self._last_rx: float | None = None  # monotonic
        self._warn = RateLimitedLog(log)
        self.connections = 0

    def stop(self) -> None:
        """Ask ``batches()`` to end (within about ``poll_s``)."""
        self._stop.set()

    def health(self) -> FeedHealth:
        c = self.decoder.counters.snapshot()
        last = self._last_rx
        return FeedHealth(
            connected=self._connected,
            messages=c.messages,
            decoded=c.decoded,
            rejected=c.rejected,
            last_message_age_s=None if last is None else max(0.0, time.monotonic() - last),
        )

    def _received(self) -> None:
        self._last_rx = time.monotonic()

    def batches(self) -> Iterator[TrackBatch]:
        """Yield decoded batches until the source ends or :meth:`stop` (see the module doc).

        When it ends, a decoder holding resources (the ASTERIX worker process) is closed; it
        would start again if fed later.
        """
        try:
            yield from self._batches()
        finally:
            close = getattr(self.decoder, "close", None)
            if close is not None:
                close()

    def _batches(self) -> Iterator[TrackBatch]:
        raise NotImplementedError


class TcpFeed(_Base):
    """Read a receiver's TCP stream, reconnecting with exponential backoff.

    ``backoff=(first, max)`` seconds: the wait after a failed or broken connection doubles from
    ``first`` up to ``max`` and resets after a connection that delivered data.
    ``max_connections`` (``None`` = forever) bounds the connection attempts (for tests and
    one-shot use).
    """

    def __init__(
        self,
        host: str,
        port: int,
        decoder: Decoder,
        name: str | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
        *,
        connect_timeout_s: float = 5.0,
        poll_s: float = 0.5,
        max_connections: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(decoder, name or f"{decoder.name}:tcp:{host}:{port}", clock)
        if not (0 < backoff[0] <= backoff[1]):
            raise InvalidInput("needs 0 < first <= max", "backoff")
        self.host, self.port = host, int(port)
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self._connect_timeout = connect_timeout_s
        self._poll = poll_s
        self._max_connections = max_connections
        #: waits (s) slept before each reconnection, in order (health and tests)
        self.waits: list[float] = []

    def _batches(self) -> Iterator[TrackBatch]:
        wait = self.backoff[0]
        attempts = 0
        while not self._stop.is_set():
            if self._max_connections is not None and attempts >= self._max_connections:
                return
            attempts += 1
            try:
                sock = socket.create_connection(
                    (self.host, self.port), timeout=self._connect_timeout
                )
            except OSError as exc:
                self._warn.warning("%s: connect failed: %s", self.name, exc)
            else:
                self.connections += 1
                self._connected = True
                got_data = False
                try:
                    sock.settimeout(self._poll)
                    with sock:
                        while not self._stop.is_set():
                            try:
                                data = sock.recv(65536)
                            except TimeoutError:
                                continue
                            except OSError as exc:
                                self._warn.warning("%s: connection broken: %s", self.name, exc)
                                break
                            if not data:
                                break
                            got_data = True
                            self._received()
                            batch = self.decoder.feed(data, self._clock())
                            if _worth(batch):
                                yield batch
                finally:
                    self._connected = False
                tail = self.decoder.flush(self._clock())
                if _worth(tail):
                    yield tail
                if got_data:
                    wait = self.backoff[0]
            if self._stop.is_set():
                return
            if self._max_connections is not None and attempts >= self._max_connections:
                return
            self.waits.append(wait)
            self._stop.wait(wait)
            wait = min(wait * 2.0, self.backoff[1])


class UdpFeed(_Base):
    """Bind ``host:port`` and decode each UDP datagram (``port=0``: any free port, see
    :attr:`address`). ``connected`` means bound."""

    def __init__(
        self,
        host: str,
        port: int,
        decoder: Decoder,
        name: str | None = None,
        *,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(decoder, name or f"{decoder.name}:udp:{host}:{port}", clock)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, int(port)))
        except OSError as exc:
            self._sock.close()
            raise InvalidInput(f"cannot bind {host}:{port}: {exc}", "udp") from exc
        self._sock.settimeout(poll_s)
        self._connected = True
        self.datagrams = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def _batches(self) -> Iterator[TrackBatch]:
        try:
            while not self._stop.is_set():
                try:
                    data = self._sock.recv(65535)
                except TimeoutError:
                    continue
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    self._warn.warning("%s: receive failed: %s", self.name, exc)
                    self._stop.wait(0.1)
                    continue
                self.datagrams += 1
                self._received()
                batch = _feed_datagram(self.decoder, data, self._clock())
                if _worth(batch):
                    yield batch
        finally:
            self._connected = False
            self._sock.close()
            tail = self.decoder.flush(self._clock())
        if _worth(tail):
            yield tail


class HttpPollFeed(_Base):
    """Poll a document (readsb ``aircraft.json``) from an ``http(s)://`` URL or a file path
    every ``interval_s``; each poll is one complete document (fed, then flushed)."""

    def __init__(
        self,
        url_or_path: str | Path,
        decoder: Decoder,
        interval_s: float = 1.0,
        name: str | None = None,
        *,
        timeout_s: float = 5.0,
        max_polls: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        src = str(url_or_path)
        super().__init__(decoder, name or f"{decoder.name}:poll:{src}", clock)
        if interval_s <= 0:
            raise InvalidInput("must be > 0", "interval_s")
        self.source = src
        self.interval_s = float(interval_s)
        self._timeout = timeout_s
        self._max_polls = max_polls
        self.polls = 0

    def _read(self) -> bytes:
        if self.source.startswith(("http://", "https://")):
            with urllib.request.urlopen(self.source, timeout=self._timeout) as resp:
                data: bytes = resp.read()
                return data
        return Path(self.source).read_bytes()

    def _batches(self) -> Iterator[TrackBatch]:
        while not self._stop.is_set():
            if self._max_polls is not None and self.polls >= self._max_polls:
                return
            start = time.monotonic()
            self.polls += 1
            try:
                data = self._read()
            except (OSError, ValueError) as exc:
                self._connected = False
                self._warn.warning("%s: poll failed: %s", self.name, exc)
            else:
                self._connected = True
                self._received()
                now = self._clock()
                batch = TrackBatch.concat([self.decoder.feed(data, now), self.decoder.flush(now)])
                if _worth(batch):
                    yield batch
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - start)))
        self._connected = False


# -- recordings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayProgress:
    """Where a replay stands: bytes (or packets) done of the total, and the data time."""

    done: int
    total: int
    data_time: float | None


_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


def is_pcap(head: bytes) -> bool:
    """Whether ``head`` (the first 4 bytes or more of a file) starts a pcap or pcapng file."""
    return head[:4] in _PCAP_MAGIC or head[:4] == _PCAPNG_SHB


def read_pcap(data: bytes) -> Iterator[tuple[float, bytes]]:
    """Yield ``(capture time, UDP payload)`` for each UDP packet of a pcap/pcapng capture.

    Packets that are not UDP (or are later IPv4 fragments) are skipped; a truncated last record
    ends the iteration. Raises :class:`InvalidInput` if ``data`` is not a capture.
    """
    magic = data[:4]
    if magic in _PCAP_MAGIC:
        yield from _read_classic(data)
    elif magic == _PCAPNG_SHB:
        yield from _read_ng(data)
    else:
        raise InvalidInput("not a pcap or pcapng capture (bad magic)", "file")


def _read_classic(data: bytes) -> Iterator[tuple[float, bytes]]:
    end, unit = _PCAP_MAGIC[data[:4]]
    if len(data) < 24:
        return
    (link,) = struct.unpack(end + "I", data[20:24])
    link &= 0x0FFFFFFF
    off = 24
    hdr = struct.Struct(end + "IIII")
    while off + 16 <= len(data):
        sec, frac, incl, _orig = hdr.unpack_from(data, off)
        off += 16
        if off + incl > len(data):
            return
        payload = _udp_payload(link, data[off : off + incl])
        off += incl
        if payload is not None:
            yield sec + frac * unit, payload


def _read_ng(data: bytes) -> Iterator[tuple[float, bytes]]:
    off = 0
    end = "<"
    links: list[tuple[int, float]] = []
    while off + 12 <= len(data):
        btype_raw = data[off : off + 4]
        if btype_raw == _PCAPNG_SHB:
            bom = data[off + 8 : off + 12]
            end = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, blen = struct.unpack_from(end + "II", data, off)
        if blen < 12 or off + blen > len(data):
            return
        body = data[off + 8 : off + blen - 4]
        if btype == 1 and len(body) >= 8:  # interface description
            link = struct.unpack_from(end + "H", body, 0)[0]
            res = 1e-6
            opt = 8
            while opt + 4 <= len(body):
                code, olen = struct.unpack_from(end + "HH", body, opt)
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    v = body[opt + 4]
                    res = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -(v & 0x7F)
                opt += 4 + ((olen + 3) & ~3)
            links.append((link, res))
        elif btype == 6 and len(body) >= 20:  # enhanced packet
            iface, hi, lo, cap = struct.unpack_from(end + "IIII", body, 0)
            if iface < len(links):
                link, res = links[iface]
                payload = _udp_payload(link, body[20 : 20 + cap])
                if payload is not None:
                    yield ((hi << 32) | lo) * res, payload
        elif btype == 3 and len(body) >= 4 and links:  # simple packet (no time)
            link, _res = links[0]
            payload = _udp_payload(link, body[4:])
            if payload is not None:
                yield 0.0, payload
        off += blen


def _udp_payload(link: int, pkt: bytes) -> bytes | None:
    try:
        if link == 1:  # Ethernet
            etype = struct.unpack_from(">H", pkt, 12)[0]
            p = 14
            while etype in (0x8100, 0x88A8):
                etype = struct.unpack_from(">H", pkt, p + 2)[0]
                p += 4
        elif link in (101, 12, 14):  # raw IP
            p = 0
            etype = 0x0800 if pkt[0] >> 4 == 4 else 0x86DD
        elif link == 113:  # Linux cooked v1
            etype = struct.unpack_from(">H", pkt, 14)[0]
            p = 16
        elif link == 276:  # Linux cooked v2
            etype = struct.unpack_from(">H", pkt, 0)[0]
            p = 20
        elif link == 0:  # BSD loopback: 4-byte family in host order
            fam = struct.unpack_from("<I", pkt, 0)[0]
            if fam > 0xFFFF:
                fam = struct.unpack_from(">I", pkt, 0)[0]
            etype = 0x0800 if fam == 2 else 0x86DD
            p = 4
        else:
            return None
        if etype == 0x0800:
            ihl = (pkt[p] & 0x0F) * 4
            if pkt[p + 9] != 17:
                return None
            frag = struct.unpack_from(">H", pkt, p + 6)[0]
            if frag & 0x1FFF:
                return None
            total = struct.unpack_from(">H", pkt, p + 2)[0]
            u = p + ihl
            ip_end = p + total if total else len(pkt)
        elif etype == 0x86DD:
            if pkt[p + 6] != 17:
                return None
            u = p + 40
            ip_end = len(pkt)
        else:
            return None
        ulen = struct.unpack_from(">H", pkt, u + 4)[0]
        end = min(u + ulen if ulen >= 8 else ip_end, ip_end, len(pkt))
        return bytes(pkt[u + 8 : end])
    except (struct.error, IndexError):
        return None


class FileReplayFeed(_Base):
    """Replay a raw recording through ``decoder`` at ``speed``× (``0`` = as fast as possible).

    A pcap/pcapng file is replayed packet by packet (each UDP payload a datagram, the capture
    time as receive time ``now``), paced by the capture times. Any other file is fed in
    ``chunk``-byte pieces with the wall clock as ``now``, paced by the decoded track times.
    With ``retime=True`` (default) every state time is moved onto the wall clock
    (``start + (t - t_first) / speed``) so a live service sees fresh data; kinematics are not
    scaled. ``progress(ReplayProgress)`` is called after each piece. ``connected`` is true while
    the replay runs.
    """

    def __init__(
        self,
        path: str | Path,
        decoder: Decoder,
        speed: float = 1.0,
        chunk: int = 4096,
        name: str | None = None,
        *,
        retime: bool = True,
        progress: Callable[[ReplayProgress], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        p = Path(path)
        super().__init__(decoder, name or f"{decoder.name}:replay:{p.name}", clock)
        if not p.is_file():
            raise InvalidInput(f"no such file: {p}", "file")
        if not speed >= 0:
            raise InvalidInput("must be >= 0", "speed")
        if chunk < 1:
            raise InvalidInput("must be >= 1", "chunk")
        self.path = p
        self.speed = float(speed)
        self.chunk = int(chunk)
        self.retime = retime
        self._progress = progress
        self._sleep = sleep or (lambda s: self._stop.wait(s))

    def _pieces(self, data: bytes) -> tuple[int, Iterator[tuple[float | None, bytes]]]:
        if is_pcap(data):
            packets = list(read_pcap(data))
            return len(packets), iter([(t, b) for t, b in packets])
        n = len(data)
        return n, ((None, data[i : i + self.chunk]) for i in range(0, n, self.chunk))

    def _batches(self) -> Iterator[TrackBatch]:
        data = self.path.read_bytes()
        pcap = is_pcap(data)
        total, pieces = self._pieces(data)
        self._connected = True
        wall0 = self._clock()
        t0: float | None = None
        done = 0
        try:
            for ts, piece in pieces:
                if self._stop.is_set():
                    return
                if pcap and ts is not None:
                    if t0 is None:
                        t0 = ts
                    self._pace(wall0, ts - t0)
                    batch = _feed_datagram(self.decoder, piece, ts)
                    done += 1
                else:
                    batch = self.decoder.feed(piece, self._clock())
                    done += len(piece)
                self._received()
                if len(batch):
                    if t0 is None:
                        t0 = float(batch.t.min())
                    if not pcap:
                        self._pace(wall0, float(batch.t.max()) - t0)
                batch = self._retimed(batch, wall0, t0)
                if _worth(batch):
                    yield batch
                if self._progress is not None:
                    self._progress(
                        ReplayProgress(done, total, None if not len(batch) else float(batch.t[-1]))
                    )
            tail = self._retimed(self.decoder.flush(self._clock()), wall0, t0)
            if _worth(tail):
                yield tail
        finally:
            self._connected = False

    def _pace(self, wall0: float, data_elapsed: float) -> None:
        if self.speed <= 0:
            return
        due = wall0 + data_elapsed / self.speed - self._clock()
        if due > 0:
            self._sleep(due)

    def _retimed(self, batch: TrackBatch, wall0: float, t0: float | None) -> TrackBatch:
        if not self.retime or not len(batch) or t0 is None:
            return batch
        if self.speed > 0:
            t = wall0 + (batch.t - t0) / self.speed
        else:  # as fast as possible: the latest state of each batch is "now"
            t = self._clock() + (batch.t - float(batch.t.max()))
        return TrackBatch(
            track_id=batch.track_id,
            t=t,
            lat=batch.lat,
            lon=batch.lon,
            alt_m=batch.alt_m,
            gs_mps=batch.gs_mps,
            trk_deg=batch.trk_deg,
            vs_mps=batch.vs_mps,
            pos_accuracy_m=batch.pos_accuracy_m,
            vel_accuracy_mps=batch.vel_accuracy_mps,
            rejects=batch.rejects,
        )


# -- configuration --------------------------------------------------------------------------
#: Feed type -> (module, decoder class); imported when a feed of that type is opened.
DECODERS: dict[str, tuple[str, str]] = {
    "sbs": ("sharedsky.feeds.sbs", "SbsDecoder"),
    "beast": ("sharedsky.feeds.beast", "BeastDecoder"),
    "readsb": ("sharedsky.feeds.readsb", "ReadsbDecoder"),
    "ais": ("sharedsky.feeds.ais", "AisDecoder"),
    "asterix": ("sharedsky.feeds.asterix", "AsterixDecoder"),
}
_SOURCES = ("tcp", "udp", "url", "file")


@dataclass(frozen=True)
class FeedSpec:
    """One configured feed: a format and where its bytes come from.

    ``type``: ``sbs`` | ``beast`` | ``readsb`` | ``ais`` | ``asterix``; exactly one source:
    ``tcp`` (``"host:port"``, we connect), ``udp`` (``"host:port"``, we bind), ``url``
    (``http(s)://...`` or a file path, polled every ``interval_s``) or ``file`` (a recording
    replayed at ``speed``×, ``0`` = as fast as possible); ``name`` an optional label.
    """

    type: str
    source: str  # "tcp" | "udp" | "url" | "file"
    address: str
    speed: float = 1.0
    interval_s: float = 1.0
    name: str | None = None

    @classmethod
    def from_dict(cls, doc: object, where: str = "feed", base_dir: Path | None = None) -> FeedSpec:
        """Validate a configuration entry; :class:`InvalidInput` names the offending field."""
        if not isinstance(doc, dict):
            raise InvalidInput("must be an object", where)
        unknown = set(doc) - {"type", *_SOURCES, "speed", "interval_s", "name"}
        if unknown:
            raise InvalidInput(f"unknown key(s) {sorted(unknown)}", where)
        ftype = doc.get("type")
        if ftype not in DECODERS:
            raise InvalidInput(f"must be one of {sorted(DECODERS)}, got {ftype!r}", f"{where}.type")
        given = [k for k in _SOURCES if k in doc]
        if len(given) != 1:
            raise InvalidInput(f"needs exactly one of {list(_SOURCES)}, got {given}", where)
        source = given[0]
        address = doc[source]
        if not isinstance(address, str) or not address:
            raise InvalidInput("must be a non-empty string", f"{where}.{source}")
        if source in ("tcp", "udp"):
            parse_address(address, f"{where}.{source}")
        elif source == "file" or not address.startswith(("http://", "https://")):
            p = Path(address)
            if base_dir is not None and not p.is_absolute():
                address = str(base_dir / p)
        values: dict[str, float] = {}
        for key, default in (("speed", 1.0), ("interval_s", 1.0)):
            v = doc.get(key, default)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise InvalidInput(f"must be a number >= 0, got {v!r}", f"{where}.{key}")
            values[key] = float(v)
        if values["interval_s"] <= 0:
            raise InvalidInput("must be > 0", f"{where}.interval_s")
        name = doc.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidInput("must be a non-empty string", f"{where}.name")
        return cls(ftype, source, address, values["speed"], values["interval_s"], name)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"type": self.type, self.source: self.address}
        if self.source == "file":
            d["speed"] = self.speed
        if self.source == "url":
            d["interval_s"] = self.interval_s
        if self.name:
            d["name"] = self.name
        return d


def make_decoder(ftype: str, **options: Any) -> Decoder:
    """A fresh decoder for a feed type (``sbs``, ``beast``, ``readsb``, ``ais``, ``asterix``);
    ``options`` go to the decoder's constructor."""
    if ftype not in DECODERS:
        raise InvalidInput(f"must be one of {sorted(DECODERS)}, got {ftype!r}", "type")
    module, cls = DECODERS[ftype]
    decoder: Decoder = getattr(importlib.import_module(module), cls)(**options)
    return decoder


#: Decoder options for replaying a recording: a Beast file carries its timing only in the MLAT
#: counter, so the replay must read times from it (else it would replay as fast as it is read).
REPLAY_DECODER_OPTIONS: dict[str, dict[str, Any]] = {"beast": {"mlat_epoch": 0.0}}


def open_feed(
    spec: FeedSpec,
    *,
    clock: Callable[[], float] = time.time,
    progress: Callable[[ReplayProgress], None] | None = None,
) -> TcpFeed | UdpFeed | HttpPollFeed | FileReplayFeed:
    """Build the feed a :class:`FeedSpec` describes (not started: iterate ``batches()`` or
    give it to ``LiveService.attach_feed``)."""
    if spec.source == "file":
        decoder = make_decoder(spec.type, **REPLAY_DECODER_OPTIONS.get(spec.type, {}))
    else:
        decoder = make_decoder(spec.type)
    if spec.source == "tcp":
        host, port = parse_address(spec.address, "tcp")
        return TcpFeed(host, port, decoder, spec.name, clock=clock)
    if spec.source == "udp":
        host, port = parse_address(spec.address, "udp")
        return UdpFeed(host, port, decoder, spec.name, clock=clock)
    if spec.source == "url":
        return HttpPollFeed(spec.address, decoder, spec.interval_s, spec.name, clock=clock)
    return FileReplayFeed(
        spec.address, decoder, spec.speed, name=spec.name, clock=clock, progress=progress
    )
