"""readsb / dump1090 JSON -> track states: ``aircraft.json`` snapshots and ``trace_full`` traces.

**Documents understood** by :class:`ReadsbDecoder` (each a JSON object):

* an ``aircraft.json`` snapshot (readsb, tar1090, dump1090-fa): ``{"now": epoch s, "aircraft":
  [...]}``; each aircraft is a record with ``hex`` and, when it has a position, ``lat``/``lon``
  and ``seen_pos`` (age of the position, s);
* one aircraft record on its own (readsb's JSON stream port: one object per line, with ``now``);
* a readsb/tar1090 ``trace_full`` / ``trace_recent`` document: ``{"icao", "timestamp",
  "trace": [[dt, lat, lon, alt, gs, track, flags, vrate, details, ...], ...]}``.

Input may arrive as one document per line (a stream) or as a whole document spread over lines
(a file or an HTTP body, then ended by :meth:`ReadsbDecoder.flush`, as
:class:`sharedsky.feeds.net.HttpPollFeed` does after each poll). A document spread over lines
that does not parse when its closing ``}`` comes back to column 0 (or at ``flush``) is one
rejected message; the next document is read afresh.

**Times.** A snapshot record's state time is the document's ``now`` minus the record's
``seen_pos`` (readsb writes the age of the position there); without ``seen_pos`` the record's
``seen`` is used, and without ``now`` the receive time. A trace point is at ``timestamp + dt``.

**Fields** (feet, knots, ft/min at the edge, SI inside): altitude ``alt_baro`` (``"ground"``
means on the ground: the geometric ``alt_geom`` is used when present, else unknown), legacy
``altitude``; ground speed ``gs`` (legacy ``speed``); ``track``; vertical rate ``baro_rate``,
else ``geom_rate`` (legacy ``vert_rate``). Missing kinematics are NaN: snapshot records are
complete reports, so no velocity is required.

**Counting.** Each aircraft record or trace point is one message: *decoded* when it gives a new
state; *ignored* when it has no position, its position is older than ``max_age_s`` (60 s), it
repeats the position already given for that aircraft (polling faster than the aircraft reports),
or it is a trace point flagged stale; *rejected* (with a reason naming the field) when a field
has the wrong type or range. A document that is not JSON, or not one of the forms above, is one
rejected message.

:class:`TraceReplay` replays a ``trace_full`` file as a feed at real or N× speed (through
:class:`~sharedsky.feeds.tables.TableReplay`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.errors import InvalidInput
from sharedsky.feeds._adsb import FPM_TO_MPS, FT_TO_M, KT_TO_MPS, NAN, BadInput, Rows
from sharedsky.feeds.decoding import DecoderCounters
from sharedsky.feeds.tables import ReplayProgress, TableReplay
from sharedsky.model.tracks import TrackBatch

__all__ = ["ReadsbDecoder", "TraceReplay", "trace_table"]

_log = logging.getLogger(__name__)

_MAX_DOC = 64 * 1024 * 1024


class _Skip(Exception):
    """A record that is fine but gives no new state (counted as ignored)."""


def _num(rec: dict[str, Any], *names: str) -> float:
    """First present numeric field among ``names`` (NaN if none); wrong type -> ValueError."""
    for name in names:
        v = rec.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{name}: not a number: {v!r}"[:100])
        x = float(v)
        if not math.isfinite(x):
            raise ValueError(f"{name}: not finite")
        return x
    return NAN


def _altitude_ft(rec: dict[str, Any]) -> float:
    v = rec.get("alt_baro", rec.get("altitude"))
    if v == "ground":
        return _num(rec, "alt_geom")
    if v is None:
        return _num(rec, "alt_geom")
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"alt_baro: not a number or 'ground': {v!r}"[:100])
    return float(v)


def _hex(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"hex: not a string: {v!r}"[:100])
    h = v.strip().lower()
    body = h[1:] if h.startswith("~") else h
    if len(body) != 6 or any(c not in "0123456789abcdef" for c in body):
        raise ValueError(f"hex: not a 24-bit address: {v[:20]!r}")
    return h


class ReadsbDecoder:
    """Incremental decoder of readsb/dump1090 JSON (see the module docstring)."""

    name = "readsb"

    def __init__(self, *, max_age_s: float = 60.0, on_invalid: str = "collect") -> None:
        if not (max_age_s > 0 and math.isfinite(max_age_s)):
            raise InvalidInput("must be a positive number of seconds", "max_age_s")
        self.max_age_s = float(max_age_s)
        self.counters = DecoderCounters()
        self._bad = BadInput("readsb", on_invalid, self.counters, _log)
        self._last_t: dict[str, float] = {}
        self._tail = b""
        self._doc: list[bytes] = []
        self._doc_len = 0
        self._index = 0

    # -- public -----------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> TrackBatch:
        rows = Rows()
        buf = self._tail + data if self._tail else data
        end = buf.rfind(b"\n")
        if end < 0:
            self._tail = buf
            if len(buf) > _MAX_DOC:
                self._tail = b""
                self._reject(rows, buf, "document: over 64 MiB")
            return rows.batch()
        self._tail = buf[end + 1 :]
        for line in buf[:end].split(b"\n"):
            self._line(line, now, rows)
        return rows.batch()

    def flush(self, now: float) -> TrackBatch:
        rows = Rows()
        if self._tail.strip():
            self._doc.append(self._tail)
        self._tail = b""
        if self._doc:
            text = b"\n".join(self._doc)
            self._doc, self._doc_len = [], 0
            self._document(text, now, rows)
        return rows.batch()

    # -- internals --------------------------------------------------------------------------
    def _reject(self, rows: Rows, raw: bytes | str, reason: str) -> None:
        self._index += 1
        text = raw[:300].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:300]
        self._bad(rows, self._index, text, reason)

    def _line(self, line: bytes, now: float, rows: Rows) -> None:
        s = line.strip()
        if not s:
            return
        if not self._doc:
            try:
                obj = json.loads(s)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                self._object(obj, now, rows, s)
                return
        # part of a document spread over lines: keep until it parses (or until flush)
        self._doc.append(line)
        self._doc_len += len(line)
        if self._doc_len > _MAX_DOC:
            text = b"\n".join(self._doc)
            self._doc, self._doc_len = [], 0
            self._reject(rows, text, "document: over 64 MiB")
            return
        if s.endswith(b"}"):
            text = b"\n".join(self._doc)
            try:
                obj = json.loads(text)
            except ValueError as exc:
                if line[:1] == b"}":  # the closing brace of a document at column 0: it is broken
                    self._doc, self._doc_len = [], 0
                    self._reject(rows, text, f"document: not JSON ({exc})"[:120])
                return
            self._doc, self._doc_len = [], 0
            if isinstance(obj, dict):
                self._object(obj, now, rows, text)
            else:
                self._reject(rows, text, "document: not a JSON object")

    def _document(self, text: bytes, now: float, rows: Rows) -> None:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            self._reject(rows, text, f"document: not JSON ({exc})"[:120])
            return
        if not isinstance(obj, dict):
            self._reject(rows, text, "document: not a JSON object")
            return
        self._object(obj, now, rows, text)

    def _object(self, obj: dict[str, Any], now: float, rows: Rows, raw: bytes) -> None:
        if isinstance(obj.get("aircraft"), list):
            t_doc = obj.get("now", now)
            if isinstance(t_doc, bool) or not isinstance(t_doc, int | float):
                self._reject(rows, raw, "now: not a number")
                return
            self._records(obj["aircraft"], float(t_doc), rows)
        elif isinstance(obj.get("trace"), list):
            self._trace(obj, rows, raw)
        elif "hex" in obj:
            t_doc = obj.get("now", now)
            if isinstance(t_doc, bool) or not isinstance(t_doc, int | float):
                t_doc = now
            self._records([obj], float(t_doc), rows)
        else:
            self._reject(rows, raw, "document: no 'aircraft', 'trace' or 'hex'")

    def _records(self, records: list[Any], t_doc: float, rows: Rows) -> None:
        decoded = ignored = 0
        max_age = self.max_age_s
        last = self._last_t
        bad = self._bad
        for rec in records:
            self._index += 1
            if not isinstance(rec, dict):
                bad(rows, self._index, json.dumps(rec)[:300], "aircraft: not an object")
                continue
            try:
                tid = _hex(rec.get("hex"))
                lat, lon = rec.get("lat"), rec.get("lon")
                if lat is None or lon is None:
                    raise _Skip
                lat, lon = _num(rec, "lat"), _num(rec, "lon")
                if not -90.0 <= lat <= 90.0:
                    raise ValueError("lat: outside [-90, 90]")
                if not -180.0 <= lon <= 180.0:
                    raise ValueError("lon: outside [-180, 180]")
                age = _num(rec, "seen_pos", "seen")
                age = 0.0 if age != age else age
                if age < 0.0:
                    raise ValueError("seen_pos: negative")
                if age > max_age:
                    raise _Skip
                t = t_doc - age
                if t <= last.get(tid, -math.inf) + 1e-3:
                    raise _Skip
                alt = _altitude_ft(rec)
                gs = _num(rec, "gs", "speed")
                trk = _num(rec, "track")
                vr = _num(rec, "baro_rate", "geom_rate", "vert_rate")
            except _Skip:
                ignored += 1
                continue
            except ValueError as exc:
                bad(rows, self._index, json.dumps(rec)[:300], str(exc))
                continue
            last[tid] = t
            rows.ids.append(tid)
            rows.vals.append((t, lat, lon, alt * FT_TO_M, gs * KT_TO_MPS, trk, vr * FPM_TO_MPS))
            decoded += 1
        if decoded or ignored:
            self.counters.add(decoded=decoded, ignored=ignored)

    def _trace(self, obj: dict[str, Any], rows: Rows, raw: bytes) -> None:
        try:
            tid = _hex(obj.get("icao"))
            t0 = _num(obj, "timestamp")
            if t0 != t0:
                raise ValueError("timestamp: missing")
        except ValueError as exc:
            self._reject(rows, raw, str(exc))
            return
        decoded = ignored = 0
        bad = self._bad
        for p in obj["trace"]:
            self._index += 1
            try:
                if not isinstance(p, list) or len(p) < 8:
                    raise ValueError("trace point: not a list of at least 8 values")
                dt, lat, lon, alt, gs, trk, flags, vr = p[:8]
                for name, v in (("dt", dt), ("lat", lat), ("lon", lon)):
                    if isinstance(v, bool) or not isinstance(v, int | float):
                        raise ValueError(f"{name}: not a number: {v!r}"[:100])
                if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                    raise ValueError("lat/lon: out of range")
                if isinstance(flags, int) and flags & 1:
                    ignored += 1  # stale: the position was not updated since the last point
                    continue
                rec = {"alt_baro": alt, "gs": gs, "track": trk, "baro_rate": vr}
                if alt == "ground" and len(p) > 10:
                    rec["alt_geom"] = p[10]
                a = _altitude_ft(rec)
                g, k, v = _num(rec, "gs"), _num(rec, "track"), _num(rec, "baro_rate")
            except ValueError as exc:
                bad(rows, self._index, json.dumps(p)[:300], str(exc))
                continue
            rows.ids.append(tid)
            rows.vals.append(
                (
                    t0 + float(dt),
                    float(lat),
                    float(lon),
                    a * FT_TO_M,
                    g * KT_TO_MPS,
                    k,
                    v * FPM_TO_MPS,
                )
            )
            decoded += 1
        if decoded or ignored:
            self.counters.add(decoded=decoded, ignored=ignored)


def trace_table(source: str | Path | dict[str, Any]) -> pd.DataFrame:
    """A ``trace_full`` document (path or parsed object) as a ``traffic``-style table.

    Columns ``timestamp`` (epoch s), ``icao24``, ``latitude``, ``longitude``, ``altitude`` [ft],
    ``groundspeed`` [kt], ``track``, ``vertical_rate`` [ft/min], ``callsign`` (from the point
    details when given, carried forward). Stale points are left out; a malformed point raises
    :class:`~sharedsky.errors.InvalidInput` naming it.
    """
    doc = source
    if not isinstance(doc, dict):
        try:
            doc = json.loads(Path(doc).read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read a trace: {exc}", "trace") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("trace"), list):
        raise InvalidInput("not a readsb trace document (no 'trace' list)", "trace")
    decoder = ReadsbDecoder(on_invalid="raise")
    rows = Rows()
    decoder._trace(doc, rows, b"")
    v = np.array(rows.vals, dtype=np.float64).reshape(-1, 7)
    callsign: list[str | None] = []
    current: str | None = None
    for p in doc["trace"]:
        if isinstance(p, list) and len(p) > 8 and isinstance(p[8], dict):
            f = p[8].get("flight")
            if isinstance(f, str) and f.strip():
                current = f.strip()
        if isinstance(p, list) and len(p) > 6 and not (isinstance(p[6], int) and p[6] & 1):
            callsign.append(current)
    return pd.DataFrame(
        {
            "timestamp": v[:, 0],
            "icao24": rows.ids,
            "callsign": callsign,
            "latitude": v[:, 1],
            "longitude": v[:, 2],
            "altitude": v[:, 3] / FT_TO_M,
            "groundspeed": v[:, 4] / KT_TO_MPS,
            "track": v[:, 5],
            "vertical_rate": v[:, 6] / FPM_TO_MPS,
        }
    )


class TraceReplay(TableReplay):
    """Replay of a readsb/tar1090 ``trace_full`` file as a feed, at real or N× speed.

    Same pacing, retiming and progress as :class:`~sharedsky.feeds.tables.TableReplay`
    (``speed``, ``start``, ``progress``, ``step_s``, ``retime``, ``anchor``), on the table
    :func:`trace_table` makes of the trace.
    """

    def __init__(
        self,
        path: str | Path,
        speed: float = 1.0,
        start: Any = None,
        progress: Callable[[ReplayProgress], None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("name", f"readsb-trace:{Path(path).name}")
        super().__init__(trace_table(path), speed, start, progress, **kwargs)
