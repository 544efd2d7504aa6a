"""ASTERIX decoder: CAT021 (ADS-B reports) and CAT062 (SDPS system tracks) as track states.

Data blocks (``CAT`` 1 byte, ``LEN`` 2 bytes big-endian, records) are framed here; their records
are decoded with the ``asterix-decoder`` package (module ``asterix``, EUROCONTROL definitions
CAT021 ed. 2.6 and CAT062 ed. 1.18).

**Isolation.** ``asterix-decoder`` is a C++ extension that crashes the whole process
(segmentation fault) on some malformed blocks, and reads past the buffer when a block's length
is larger than its data. The decoder therefore (1) checks the block framing itself and passes
only complete blocks, and (2) runs the library in a small worker process
(``python -c ...``, pipes, one request per datagram or stream piece). A worker that dies or
hangs (2 s) turns the blocks it held into rejects and is restarted for the next data; the feed
and the server never go down with it. ``isolate=False`` calls the library in-process (only for
trusted data).

Output per record:

* CAT062: ``track_id`` = the Mode S address of I380/ADR (lower-case hex) when present, else
  ``"SAC/SIC/track number"`` (I010, I040); position I105 (WGS-84); altitude from the measured
  flight level I136 (pressure altitude, ft -> m), else the geometric altitude I130; ground
  speed and track from the Cartesian velocity I185 (Vx east, Vy north, m/s); vertical rate
  I220 (ft/min -> m/s); time I070;
* CAT021: ``track_id`` = target address I080 (lower-case hex); position I131 (high
  resolution), else I130; altitude from the flight level I145, else the geometric height I140;
  ground speed and track angle from I160; vertical rate I155 (barometric), else I157; time
  I073 (reception of position), else I071, else I077.

Times of day become epoch seconds on the date given to the constructor (``date``, e.g. the
capture's date) or, by default, on the UTC day that puts the time nearest to the receive time
``now`` (so a track time just before midnight received just after it lands on the right day;
replaying a pcap passes the capture time as ``now``).

Counting (``messages == decoded + rejected + ignored``; a *message* is one record as found by
the library, or one data block when nothing in it could be split into records):

* decoded: a CAT021/CAT062 record that gave a state;
* rejected (with a reason naming the item): a record the library could not decode (items
  missing: e.g. an edition the definitions do not match), without a position or time, with a
  position or time out of range; a block with a bad length (stream framing lost: the buffered
  bytes are dropped), truncated at the end of a datagram or stream, or that crashed the
  library;
* ignored: records of other categories (CAT034, CAT048, CAT065 ...).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import struct
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

import orjson

from sharedsky.feeds.decoding import DecoderCounters, RateLimitedLog
from sharedsky.model.tracks import Reject, TrackBatch

__all__ = ["AsterixDecoder", "AsterixWorkerError"]

log = logging.getLogger(__name__)

_FT = 0.3048
_FPM = 0.3048 / 60.0
_NM = 1852.0
_DAY = 86400.0
_MAX_RAW = 120
_MAX_BUFFER = 1 << 20
_WORKER_TIMEOUT_S = 2.0
_USED = (21, 62)

_WORKER_CODE = (
    "import sys, struct, asterix, orjson\n"
    "r, w = sys.stdin.buffer, sys.stdout.buffer\n"
    "while True:\n"
    "    h = r.read(4)\n"
    "    if len(h) < 4: break\n"
    "    n = struct.unpack('>I', h)[0]\n"
    "    data = r.read(n)\n"
    "    res, off = [], 0\n"
    "    try:\n"
    "        while off + 3 <= n:\n"
    "            m = struct.unpack_from('>H', data, off + 1)[0]\n"
    "            res.append(asterix.parse(data[off:off + m], verbose=False)); off += m\n"
    "        out = orjson.dumps(res)\n"
    "    except Exception as e:\n"
    "        out = orjson.dumps({'error': repr(e)})\n"
    "    w.write(struct.pack('>I', len(out)) + out); w.flush()\n"
)


class AsterixWorkerError(Exception):
    """The library worker died or hung on a piece of data (internal; becomes rejects)."""


class _Worker:
    """A child process running ``asterix.parse``; restarted after a crash."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._proc = proc
        return proc

    def parse(self, data: bytes) -> list[list[dict[str, Any]]]:
        """Records of each block of ``data`` (complete, validated blocks)."""
        proc = self._proc if self._proc is not None and self._proc.poll() is None else None
        if proc is None:
            self.close()
            proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(struct.pack(">I", len(data)) + data)
            proc.stdin.flush()
            head = self._read(proc, 4)
            body = self._read(proc, struct.unpack(">I", head)[0])
        except (OSError, AsterixWorkerError) as exc:
            self.restarts += 1
            self.close()
            raise AsterixWorkerError(str(exc) or type(exc).__name__) from exc
        out = orjson.loads(body)
        if isinstance(out, dict):
            raise AsterixWorkerError(str(out.get("error")))
        return list(out)

    @staticmethod
    def _read(proc: subprocess.Popen[bytes], n: int) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks = []
        while n > 0:
            ready, _, _ = select.select([fd], [], [], _WORKER_TIMEOUT_S)
            if not ready:
                raise AsterixWorkerError("decoder did not answer within 2 s")
            chunk = os.read(fd, n)
            if not chunk:
                raise AsterixWorkerError("decoder crashed on this data")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _in_process_parse(data: bytes) -> list[list[dict[str, Any]]]:
    import asterix  # heavy: loads every category definition

    out, off = [], 0
    while off + 3 <= len(data):
        m = struct.unpack_from(">H", data, off + 1)[0]
        out.append(list(asterix.parse(data[off : off + m], verbose=False)))
        off += m
    return out


def _val(rec: dict[str, Any], item: str, *path: str) -> Any:
    """``rec[item][p1][p2]...["val"]`` or ``None``."""
    node: Any = rec.get(item)
    for p in path:
        if not isinstance(node, dict):
            return None
        node = node.get(p)
    if not isinstance(node, dict):
        return None
    return node.get("val")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    x = float(v)
    return x if math.isfinite(x) else None


class AsterixDecoder:
    """Incremental ASTERIX decoder (see the module docstring). Implements ``Decoder``.

    ``feed`` takes a byte stream (TCP, ``.ast`` files) in any chunking; ``feed_datagram`` a
    UDP payload (its data blocks must be complete). Call :meth:`close` to stop the worker.
    """

    name = "asterix"

    def __init__(self, day: date | None = None, *, isolate: bool = True) -> None:
        self.counters = DecoderCounters()
        self.day = day
        self._midnight = (
            None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        )
        self._worker: _Worker | None = _Worker() if isolate else None
        self._buf = b""
        self._block_no = 0
        self._warn = RateLimitedLog(log)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    @property
    def worker_restarts(self) -> int:
        """How many times the library worker died or hung (and was replaced)."""
        return 0 if self._worker is None else self._worker.restarts

    # -- Decoder protocol -------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> TrackBatch:
        self._buf += bytes(data)
        blocks, rejects = self._frame(final=False)
        return self._decode(blocks, now, rejects)

    def feed_datagram(self, data: bytes, now: float) -> TrackBatch:
        """A datagram holds whole blocks: a truncated last block is rejected, nothing carried."""
        pre_blocks, pre_rejects = self._frame(final=True)  # anything left from feed()
        self._buf = bytes(data)
        blocks, rejects = self._frame(final=True)
        return self._decode(pre_blocks + blocks, now, pre_rejects + rejects)

    def flush(self, now: float) -> TrackBatch:
        blocks, rejects = self._frame(final=True)
        return self._decode(blocks, now, rejects)

    # -- framing ----------------------------------------------------------------------------
    def _frame(self, final: bool) -> tuple[list[tuple[int, bytes]], list[Reject]]:
        blocks: list[tuple[int, bytes]] = []
        rejects: list[Reject] = []
        buf = self._buf
        off = 0
        while len(buf) - off >= 3:
            length = struct.unpack_from(">H", buf, off + 1)[0]
            if length < 4:
                self._block_no += 1
                rejects.append(
                    self._reject(
                        self._block_no,
                        buf[off:],
                        f"block: LEN {length} < 4 (framing lost; {len(buf) - off} bytes dropped)",
                    )
                )
                off = len(buf)
                break
            if len(buf) - off < length:
                break
            self._block_no += 1
            blocks.append((self._block_no, buf[off : off + length]))
            off += length
        rest = buf[off:]
        if rest and (final or len(rest) > _MAX_BUFFER):
            self._block_no += 1
            rejects.append(
                self._reject(self._block_no, rest, f"block: truncated ({len(rest)} bytes)")
            )
            rest = b""
        self._buf = rest
        return blocks, rejects

    def _reject(self, no: int, raw: bytes, reason: str, count: int = 1) -> Reject:
        self.counters.add(rejected=count)
        self._warn.warning("asterix: block %d rejected: %s", no, reason)
        return Reject(no, raw[:_MAX_RAW].hex(), reason)

    # -- records ----------------------------------------------------------------------------
    def _decode(
        self, blocks: list[tuple[int, bytes]], now: float, rejects: list[Reject]
    ) -> TrackBatch:
        rows: list[tuple[str, float, float, float, float, float, float, float]] = []
        if blocks:
            data = b"".join(b for _, b in blocks)
            try:
                records = (
                    self._worker.parse(data)
                    if self._worker is not None
                    else _in_process_parse(data)
                )
            except Exception as exc:  # a library failure must not stop the feed
                for no, b in blocks:
                    rejects.append(self._reject(no, b, f"block: decoder failed ({exc})"[:120]))
                records = []
            else:
                self._records(blocks, records, now, rows, rejects)
        return TrackBatch.from_rows(rows, rejects)

    def _records(
        self,
        blocks: list[tuple[int, bytes]],
        records: list[list[dict[str, Any]]],
        now: float,
        rows: list[tuple[str, float, float, float, float, float, float, float]],
        rejects: list[Reject],
    ) -> None:
        if len(records) != len(blocks):
            for no, b in blocks:
                rejects.append(self._reject(no, b, "block: decoder answered out of step"))
            return
        for (no, block), recs in zip(blocks, records, strict=True):
            cat = block[0]
            if not recs:
                if cat in _USED:
                    rejects.append(self._reject(no, block, "block: no record could be decoded"))
                else:
                    self.counters.add(ignored=1)
                continue
            for rec in recs:
                self._record(no, cat, rec, now, rows, rejects, block)

    def _record(
        self,
        no: int,
        cat: int,
        rec: Any,
        now: float,
        rows: list[tuple[str, float, float, float, float, float, float, float]],
        rejects: list[Reject],
        block: bytes = b"",
    ) -> None:
        if cat not in _USED:
            self.counters.add(ignored=1)
            return
        if not isinstance(rec, dict):
            rejects.append(self._reject(no, b"", "record: not an object"))
            return
        raw = str(rec.get("hexdata") or "") or block[:_MAX_RAW].hex()
        result = self._cat062(rec, now) if cat == 62 else self._cat021(rec, now)
        if isinstance(result, str):
            self.counters.add(rejected=1)
            self._warn.warning("asterix: record in block %d rejected: %s", no, result)
            rejects.append(Reject(no, raw[: _MAX_RAW * 2], result))
            return
        self.counters.add(decoded=1)
        rows.append(result)

    def _epoch(self, tod: float, now: float) -> float:
        if self._midnight is not None:
            return self._midnight + tod
        base = math.floor(now / _DAY) * _DAY
        return min((base + d + tod for d in (-_DAY, 0.0, _DAY)), key=lambda t: abs(t - now))

    def _cat062(
        self, rec: dict[str, Any], now: float
    ) -> tuple[str, float, float, float, float, float, float, float] | str:
        if not any(k.startswith("I") for k in rec):
            return "record: no item decoded (edition not matching the CAT062 definitions?)"
        lat, lon = _num(_val(rec, "I105", "Lat")), _num(_val(rec, "I105", "Lon"))
        if lat is None or lon is None:
            return "I105: no WGS-84 position"
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return f"I105: position {lat:.3f}, {lon:.3f} out of range"
        tod = _num(_val(rec, "I070", "ToT"))
        if tod is None or not (0.0 <= tod < _DAY):
            return "I070: time of track missing or out of range"
        adr = _val(rec, "I380", "ADR", "ADR")
        trk = _val(rec, "I040", "TrkN")
        if isinstance(adr, str) and adr.strip():
            tid = adr.strip().lower()
        elif isinstance(trk, int):
            sac, sic = _val(rec, "I010", "SAC"), _val(rec, "I010", "SIC")
            tid = f"{sac}/{sic}/{trk}"
        else:
            return "I040: no track number nor target address"
        fl_ft = _num(_val(rec, "I136", "MFL"))
        geo_ft = _num(_val(rec, "I130", "Alt"))
        alt_ft = fl_ft if fl_ft is not None else geo_ft
        vx, vy = _num(_val(rec, "I185", "Vx")), _num(_val(rec, "I185", "Vy"))
        if vx is not None and vy is not None:
            gs = math.hypot(vx, vy)
            course = math.degrees(math.atan2(vx, vy)) % 360.0
        else:
            gs = course = math.nan
        roc = _num(_val(rec, "I220", "RoC"))
        return (
            tid,
            self._epoch(tod, now),
            lat,
            lon,
            math.nan if alt_ft is None else alt_ft * _FT,
            gs,
            course,
            math.nan if roc is None else roc * _FPM,
        )

    def _cat021(
        self, rec: dict[str, Any], now: float
    ) -> tuple[str, float, float, float, float, float, float, float] | str:
        if not any(k.startswith("I") for k in rec):
            return "record: no item decoded (edition not matching the CAT021 definitions?)"
        item = "I131" if "I131" in rec else "I130"
        lat, lon = _num(_val(rec, item, "Lat")), _num(_val(rec, item, "Lon"))
        if lat is None or lon is None:
            return "I130/I131: no WGS-84 position"
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return f"{item}: position {lat:.3f}, {lon:.3f} out of range"
        tod = None
        for it, fld in (
            ("I073", "time_reception_position"),
            ("I071", "time_applicability_position"),
            ("I077", "time_report_transmission"),
        ):
            tod = _num(_val(rec, it, fld))
            if tod is not None:
                break
        if tod is None or not (0.0 <= tod < _DAY):
            return "I073/I071/I077: time of day missing or out of range"
        addr = _val(rec, "I080", "TAddr")
        if not isinstance(addr, str) or not addr.strip():
            return "I080: no target address"
        fl = _num(_val(rec, "I145", "FL"))
        geo_ft = _num(_val(rec, "I140", "geometric_height"))
        alt_m = (
            fl * 100.0 * _FT
            if fl is not None
            else (geo_ft * _FT if geo_ft is not None else math.nan)
        )
        gs_nms = _num(_val(rec, "I160", "GS"))
        ta = _num(_val(rec, "I160", "TA"))
        vr = _num(_val(rec, "I155", "BVR"))
        if vr is None:
            vr = _num(_val(rec, "I157", "GVR"))
        return (
            addr.strip().lower(),
            self._epoch(tod, now),
            lat,
            lon,
            alt_m,
            math.nan if gs_nms is None else gs_nms * _NM,
            math.nan if ta is None else ta % 360.0,
            math.nan if vr is None else vr * _FPM,
        )
