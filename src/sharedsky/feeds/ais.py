"""AIS NMEA (``!AIVDM`` / ``!AIVDO``) decoder: ships (and SAR aircraft) as track states.

Framing, checksums, NMEA 4.0 tag blocks and multi-sentence reassembly are done here; the
6-bit payload of a complete message is decoded with ``pyais``.

Input: lines (``\\n`` or ``\\r\\n``), in any chunking, optionally prefixed by a tag block
``\\s:rcv,c:1635731889*hh\\``. A line longer than 1 024 bytes is rejected.

Output (one state per position report):

* ``track_id`` — the MMSI as a decimal string;
* ``t`` — the tag block's receive time ``c:`` (epoch seconds, or milliseconds above 1e11) when
  present, else the receive time ``now`` given to :meth:`AisDecoder.feed`;
* ``lat``/``lon`` — degrees; a position "not available" (lat 91, lon 181) or out of range
  makes the message a reject (a ship without a position cannot be in the picture);
* ships (types 1, 2, 3, 18, 19, 27): ``alt_m = 0`` (surface), ``vs_mps = 0``; ``gs_mps`` from
  SOG (102.3 kn = not available -> NaN; type 27: 63 kn -> NaN); ``trk_deg`` from COG (360 =
  not available -> NaN); ``pos_accuracy_m`` 10 when the accuracy flag is set, else NaN;
* SAR aircraft (type 9): ``alt_m`` from its altitude (4095 m = not available -> NaN),
  ``gs_mps`` from SOG in knots (1023 -> NaN), ``vs_mps`` NaN.

Static data (type 5 and 24 part A) fills :attr:`AisDecoder.names` (MMSI -> vessel name);
type 24 part B and 5 count as decoded.

Counting (``messages == decoded + rejected + ignored``; a *message* is one sentence line):

* decoded: a sentence of a position report or static-data message that decoded (all
  fragments of a multi-sentence message count once the message completes);
* rejected (each with a :class:`~sharedsky.model.tracks.Reject` naming the problem): bad tag
  block or NMEA checksum, malformed fields, an unknown or bad payload, a position not
  available, fragments of a multi-sentence message that never completed (superseded by a new
  message with the same sequence id, more than 60 s old, or cut by :meth:`flush`), a line
  longer than 1 024 bytes;
* ignored (no reject): empty lines are not messages; ``#`` comment lines, other NMEA sentences
  (``$GPGGA`` ...) and AIS types without a usable position (4 base stations, 6/8 binary, 21
  aids to navigation ...).

Fragments waiting for the rest of their message are counted when their message completes or is
abandoned, so at every moment the counted messages add up, and after :meth:`flush` every line
has been counted.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pyais.bit_vector import bit_vector
from pyais.messages import MSG_CLASS

from sharedsky.feeds.decoding import DecoderCounters, RateLimitedLog
from sharedsky.model.tracks import Reject, TrackBatch

__all__ = ["AisDecoder"]

log = logging.getLogger(__name__)

_KT = 1852.0 / 3600.0
_MAX_LINE = 1024
_MAX_RAW = 200
_FRAGMENT_TTL_S = 60.0
_MAX_PENDING = 256
_SHIP_TYPES = frozenset({1, 2, 3, 18, 19, 27})
_STATIC_TYPES = frozenset({5, 24})
_PAYLOAD_RE = re.compile(rb"^[0-9:;<=>?@A-W`a-w]*$")
_TALKER_RE = re.compile(rb"^!(AI|AB|AD|AN|AR|AS|AT|AX|BS|SA|[A-Z]{2})VD[MO]$")


def _xor(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


@dataclass
class _Pending:
    total: int
    parts: list[tuple[int, bytes, int, str]] = field(default_factory=list)  # line, payload, fill
    first_t: float = 0.0
    t: float | None = None


class AisDecoder:
    """Incremental AIS NMEA decoder (see the module docstring). Implements ``Decoder``."""

    name = "ais"

    def __init__(self) -> None:
        self.counters = DecoderCounters()
        self.names: dict[str, str] = {}
        self._buf = b""
        self._line_no = 0
        self._pending: dict[tuple[str, int, str], _Pending] = {}
        self._rows: list[tuple[str, float, float, float, float, float, float, float, float]] = []
        self._rejects: list[Reject] = []
        self._warn = RateLimitedLog(log)

    # -- Decoder protocol -------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> TrackBatch:
        buf = self._buf + bytes(data)
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > _MAX_LINE:
            self._line_no += 1
            self._reject(self._line_no, self._buf, f"line: longer than {_MAX_LINE} bytes")
            self._buf = b""
        for raw in lines:
            self._line_no += 1
            self._line(self._line_no, raw.strip(), now)
        self._expire(now)
        return self._take()

    def feed_datagram(self, data: bytes, now: float) -> TrackBatch:
        """A datagram ends its last line (UDP senders often omit the final newline)."""
        if data and not data.endswith(b"\n"):
            data = bytes(data) + b"\n"
        return self.feed(data, now)

    def flush(self, now: float) -> TrackBatch:
        if self._buf.strip():
            self._line_no += 1
            self._reject(self._line_no, self._buf, "line: truncated at end of stream")
        self._buf = b""
        for key in list(self._pending):
            self._abandon(key, "fragment: message incomplete at end of stream")
        return self._take()

    # -- internals --------------------------------------------------------------------------
    def _take(self) -> TrackBatch:
        rows, rejects = self._rows, self._rejects
        self._rows, self._rejects = [], []
        return TrackBatch.from_rows(rows, rejects)

    def _reject(self, line_no: int, raw: bytes, reason: str, count: int = 1) -> None:
        text = raw[:_MAX_RAW].decode("ascii", "replace")
        self._rejects.append(Reject(line_no, text, reason))
        self.counters.add(rejected=count)
        self._warn.warning("ais: line %d rejected: %s", line_no, reason)

    def _line(self, line_no: int, line: bytes, now: float) -> None:
        if not line:
            return
        if line.startswith(b"#") or line.startswith(b"$"):
            self.counters.add(ignored=1)
            return
        t: float | None = None
        group: str | None = None
        body = line
        if line.startswith(b"\\"):
            end = line.find(b"\\", 1)
            if end < 0:
                self._reject(line_no, line, "tag block: no closing backslash")
                return
            tag, body = line[1:end], line[end + 1 :]
            parsed = _tag_block(tag)
            if isinstance(parsed, str):
                self._reject(line_no, line, parsed)
                return
            t, group = parsed
        if not body.startswith(b"!"):
            if body.startswith(b"$") or not body:
                self.counters.add(ignored=1)
            else:
                self._reject(line_no, line, "sentence: does not start with '!' or '$'")
            return
        star = body.rfind(b"*")
        if star < 0 or len(body) - star < 3:
            self._reject(line_no, line, "checksum: missing '*hh'")
            return
        try:
            want = int(body[star + 1 : star + 3], 16)
        except ValueError:
            self._reject(line_no, line, "checksum: not hexadecimal")
            return
        if _xor(body[1:star]) != want:
            self._reject(line_no, line, "checksum: mismatch")
            return
        fields = body[:star].split(b",")
        if not _TALKER_RE.match(fields[0]):
            self.counters.add(ignored=1)  # another NMEA '!' sentence
            return
        if len(fields) != 7:
            self._reject(line_no, line, f"sentence: {len(fields)} fields, expected 7")
            return
        _, f_total, f_num, f_seq, f_chan, payload, f_fill = fields
        try:
            total, num, fill = int(f_total), int(f_num), int(f_fill)
        except ValueError:
            self._reject(line_no, line, "fragment count/number/fill bits: not integers")
            return
        if not (1 <= total <= 9 and 1 <= num <= total and 0 <= fill <= 5):
            self._reject(line_no, line, "fragment count/number/fill bits: out of range")
            return
        if not payload or not _PAYLOAD_RE.match(payload):
            self._reject(line_no, line, "payload: empty or not 6-bit ASCII")
            return
        if total == 1:
            self._message([(line_no, payload, fill, line)], t if t is not None else now)
            return
        seq = f_seq.decode("ascii", "replace")
        chan = f_chan.decode("ascii", "replace")
        key = (group if group is not None else seq, total, chan if group is None else "")
        pend = self._pending.get(key)
        if num == 1:
            if pend is not None:
                self._abandon(key, "fragment: message superseded before completion")
            pend = _Pending(total=total, first_t=now, t=t)
            self._pending[key] = pend
            if len(self._pending) > _MAX_PENDING:
                oldest = min(self._pending, key=lambda k: self._pending[k].first_t)
                self._abandon(oldest, "fragment: too many incomplete messages")
        elif pend is None or len(pend.parts) != num - 1:
            self._reject(line_no, line, f"fragment: part {num} of {total} out of order")
            if pend is not None:
                self._abandon(key, "fragment: message broken by a part out of order")
            return
        pend.parts.append((line_no, payload, fill, line.decode("ascii", "replace")))
        if len(pend.parts) == total:
            del self._pending[key]
            when = pend.t if pend.t is not None else (t if t is not None else now)
            self._message(
                [(n, p, f, raw.encode("ascii", "replace")) for n, p, f, raw in pend.parts], when
            )

    def _abandon(self, key: tuple[str, int, str], reason: str) -> None:
        pend = self._pending.pop(key, None)
        if pend is None or not pend.parts:
            return
        first = pend.parts[0]
        self._reject(first[0], first[3].encode("ascii", "replace"), reason, count=len(pend.parts))

    def _expire(self, now: float) -> None:
        for key in [k for k, p in self._pending.items() if now - p.first_t > _FRAGMENT_TTL_S]:
            self._abandon(key, "fragment: message incomplete after 60 s")

    def _message(self, parts: list[tuple[int, bytes, int, bytes]], t: float) -> None:
        n = len(parts)
        line_no, raw = parts[0][0], parts[0][3]
        payload = b"".join(p[1] for p in parts)
        try:
            bv = bit_vector(payload, parts[-1][2])
            msg_type = bv.get(0, 6)
            cls = MSG_CLASS.get(msg_type)
            if cls is None:
                self._reject(line_no, raw, f"payload: unknown message type {msg_type}", n)
                return
            msg = cls.from_vector(bv)
        except Exception as exc:  # pyais raises several types on corrupt payloads
            self._reject(line_no, raw, f"payload: {type(exc).__name__}: {exc}"[:120], n)
            return
        if msg_type in _STATIC_TYPES:
            self._static(msg)
            self.counters.add(decoded=n)
            return
        if msg_type not in _SHIP_TYPES and msg_type != 9:
            self.counters.add(ignored=n)
            return
        reason = self._position(msg, msg_type, t)
        if reason is None:
            self.counters.add(decoded=n)
        else:
            self._reject(line_no, raw, reason, n)

    def _static(self, msg: Any) -> None:
        mmsi = getattr(msg, "mmsi", None)
        name = getattr(msg, "shipname", None)
        if isinstance(mmsi, int) and isinstance(name, str):
            name = name.strip(" @")
            if name:
                self.names[str(mmsi)] = name

    def _position(self, msg: Any, msg_type: int, t: float) -> str | None:
        mmsi, lat, lon = msg.mmsi, msg.lat, msg.lon
        if not isinstance(mmsi, int) or lat is None or lon is None:
            return "payload: truncated (no MMSI or position)"
        if abs(lat - 91.0) < 1e-3 or abs(lon - 181.0) < 1e-3:
            return "lat/lon: position not available (91/181)"
        if not (-90.0 <= lat <= 90.0):
            return f"lat: {lat} outside [-90, 90]"
        if not (-180.0 <= lon <= 180.0):
            return f"lon: {lon} outside [-180, 180]"
        speed = msg.speed
        course = msg.course
        if msg_type == 9:
            alt = msg.alt
            alt_m = math.nan if alt is None or alt >= 4095 else float(alt)
            gs = math.nan if speed is None or speed >= 1023 else float(speed) * _KT
            vs = math.nan
        else:
            alt_m, vs = 0.0, 0.0
            na_speed = 63 if msg_type == 27 else 102.3
            gs = math.nan if speed is None or speed >= na_speed - 1e-6 else float(speed) * _KT
        trk = math.nan if course is None or not (0.0 <= course < 360.0) else float(course)
        acc = 10.0 if getattr(msg, "accuracy", False) else math.nan
        self._rows.append((str(mmsi), float(t), float(lat), float(lon), alt_m, gs, trk, vs, acc))
        return None


def _tag_block(tag: bytes) -> tuple[float | None, str | None] | str:
    """Parse a tag block body ``k:v,k:v*hh``: (receive time, group id) or a reason string."""
    star = tag.rfind(b"*")
    if star < 0:
        return "tag block: missing checksum"
    try:
        want = int(tag[star + 1 : star + 3], 16)
    except ValueError:
        return "tag block: checksum not hexadecimal"
    if _xor(tag[:star]) != want:
        return "tag block: checksum mismatch"
    t: float | None = None
    group: str | None = None
    for item in tag[:star].split(b","):
        k, sep, v = item.partition(b":")
        if not sep:
            return "tag block: field without ':'"
        if k == b"c":
            try:
                x = float(v)
            except ValueError:
                return "tag block: c: not a number"
            if not math.isfinite(x) or x < 0:
                return "tag block: c: not a valid time"
            t = x / 1000.0 if x > 1e11 else x
        elif k == b"g":
            parts = v.split(b"-")
            if len(parts) != 3:
                return "tag block: g: expected n-m-id"
            group = "g" + parts[2].decode("ascii", "replace")
    return t, group
