"""SBS-1 / BaseStation text (the port-30003 output of dump1090 and readsb) -> track states.

One line per message, comma separated, 22 fields::

    MSG,3,1,1,4CA2D6,1,2021/10/07,12:00:01.250,2021/10/07,12:00:01.250,,35000,,,48.9,2.5,,,0,0,0,0
    0   1 2 3 4      5 6          7            8          9            10 11  12 13 14 15 16 17 ...

``1`` transmission type, ``4`` hex ident (ICAO 24-bit address, ``~`` prefix for a non-ICAO
address), ``6``/``7`` date/time *generated*, ``8``/``9`` date/time *logged*, ``10`` callsign,
``11`` altitude [ft], ``12`` ground speed [kt], ``13`` track [deg], ``14``/``15`` latitude /
longitude [deg], ``16`` vertical rate [ft/min], ``17`` squawk, ``21`` on ground.

Transmission types and what each contributes to an aircraft's merged state:

=====  ==========================  ==============================================
type   message                     fields used
=====  ==========================  ==============================================
1      ES identification           callsign
2      ES surface position         altitude, ground speed, track, lat/lon, ground
3      ES airborne position        altitude, lat/lon, ground
4      ES airborne velocity        ground speed, track, vertical rate
5      surveillance altitude       altitude
6      surveillance identity       altitude, squawk
7      air-to-air (ACAS)           altitude
8      all-call reply              (nothing but presence)
=====  ==========================  ==============================================

**Merging.** Partial messages of one aircraft update its state; a track state is emitted on every
position message (types 2 and 3) once the aircraft's velocity is known and *fresh* (received no
more than ``max_age_s`` before the position, default 10 s). Altitude is attached when fresh too,
else NaN. A surface position carries its own speed and track (vertical rate 0). With
``require_velocity=False`` positions are emitted even without a velocity (speed/track NaN).

**Times.** The emitted time is the message's *logged* date/time (fields 8/9) when present, else
its *generated* date/time (6/7), else the receive time ``now`` given to :meth:`SbsDecoder.feed`.
SBS times carry no zone: they are read as UTC unless ``utc_offset_s`` says otherwise (dump1090
and readsb write the host's local time: a receiver in UTC+2 needs ``utc_offset_s=7200``).
``time_source="receive"`` ignores the times in the lines altogether (a receiver with a bad clock).

**Counting.** Each non-empty line is one message: ``MSG`` lines that parse are *decoded* (they
were absorbed into an aircraft state), malformed lines are *rejected* with the line number (1-based
since the decoder was created) and a reason naming the field, and the other BaseStation record
kinds (``SEL``, ``ID``, ``AIR``, ``STA``, ``CLK``) are *ignored*. A line longer than 1 KiB without
a newline is rejected; at :meth:`SbsDecoder.flush` an unterminated tail is rejected as truncated.
"""

from __future__ import annotations

import calendar
import logging
import math

from sharedsky.errors import InvalidInput
from sharedsky.feeds._adsb import FPM_TO_MPS, FT_TO_M, KT_TO_MPS, NAN, BadInput, Rows
from sharedsky.feeds.decoding import DecoderCounters
from sharedsky.model.tracks import TrackBatch

__all__ = ["SbsDecoder"]

_log = logging.getLogger(__name__)

_MAX_LINE = 1024
_IGNORED_KINDS = frozenset(("SEL", "ID", "AIR", "STA", "CLK"))
_HEX = frozenset("0123456789abcdefABCDEF")
_TIME_SOURCES = ("logged", "generated", "receive")
_INF = math.inf
_SWEEP_S = 60.0  # data seconds between sweeps of the aircraft table
_FORGET_S = 600.0  # an aircraft silent this long is forgotten


class _Aircraft:
    """Merged state of one aircraft (SBS units: ft, kt, ft/min; times epoch s)."""

    __slots__ = (
        "alt_ft",
        "callsign",
        "ground",
        "gs_kt",
        "squawk",
        "t_alt",
        "t_id",
        "t_vel",
        "tid",
        "trk",
        "vr_fpm",
    )

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.callsign = ""
        self.squawk = ""
        self.ground = False
        self.alt_ft = NAN
        self.t_alt = -_INF
        self.t_id = -_INF
        self.gs_kt = NAN
        self.trk = NAN
        self.vr_fpm = NAN
        self.t_vel = -_INF


class SbsDecoder:
    """Incremental SBS-1 decoder (see the module docstring for format, merging and times).

    ``feed(data, now)`` takes bytes in any chunking and returns the states completed by them;
    ``flush(now)`` ends a stream. ``callsign(icao)`` / ``squawk(icao)`` give the last identity
    seen for an aircraft (track ids are the lower-case hex idents).
    """

    name = "sbs"

    def __init__(
        self,
        *,
        max_age_s: float = 10.0,
        require_velocity: bool = True,
        time_source: str = "logged",
        utc_offset_s: float = 0.0,
        on_invalid: str = "collect",
    ) -> None:
        if not (max_age_s > 0 and math.isfinite(max_age_s)):
            raise InvalidInput("must be a positive number of seconds", "max_age_s")
        if time_source not in _TIME_SOURCES:
            raise InvalidInput(f"must be one of {_TIME_SOURCES}", "time_source")
        self.max_age_s = float(max_age_s)
        self.require_velocity = bool(require_velocity)
        self.time_source = time_source
        self.utc_offset_s = float(utc_offset_s)
        self.counters = DecoderCounters()
        self._bad = BadInput("sbs", on_invalid, self.counters, _log)
        self._aircraft: dict[str, _Aircraft] = {}
        self._tail = b""
        self._skipping = False
        self._line_no = 0
        self._dates: dict[str, float] = {}
        self._swept = -_INF
        self._minutes: dict[str, float] = {}

    # -- public -----------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> TrackBatch:
        rows = Rows()
        if self._skipping:  # rest of an over-long line: drop up to its newline
            nl = data.find(b"\n")
            if nl < 0:
                return rows.batch()
            data = data[nl + 1 :]
            self._skipping = False
        buf = self._tail + data if self._tail else data
        end = buf.rfind(b"\n")
        if end >= 0:
            text = buf[:end].decode("latin-1")
            if "\r" in text:
                text = text.replace("\r", "")
            self._lines(text.split("\n"), now, rows)
            tail = buf[end + 1 :]
        else:
            tail = buf
        if len(tail) > _MAX_LINE:
            self._line_no += 1
            raw = tail[:300].decode("latin-1")
            self._bad(rows, self._line_no, raw, "line: over 1 KiB without a newline")
            tail = b""
            self._skipping = True
        self._tail = tail
        return rows.batch()

    def flush(self, now: float) -> TrackBatch:
        rows = Rows()
        if self._tail.strip():
            self._line_no += 1
            raw = self._tail[:300].decode("latin-1")
            self._bad(rows, self._line_no, raw, "line: truncated at end of stream")
        self._tail = b""
        self._skipping = False
        return rows.batch()

    def _sweep(self, t: float) -> None:
        """Forget aircraft silent for ``_FORGET_S`` (bounded memory on a long-running feed)."""
        self._swept = t
        old = t - _FORGET_S
        stale = [k for k, ac in self._aircraft.items() if max(ac.t_alt, ac.t_vel, ac.t_id) < old]
        for key in stale:
            del self._aircraft[key]

    def callsign(self, icao: str) -> str | None:
        """The last callsign seen for ``icao`` (lower-case hex), or None."""
        ac = self._aircraft.get(icao.lower())
        return ac.callsign or None if ac is not None else None

    def squawk(self, icao: str) -> str | None:
        """The last squawk (Mode A code) seen for ``icao``, or None."""
        ac = self._aircraft.get(icao.lower())
        return ac.squawk or None if ac is not None else None

    # -- internals --------------------------------------------------------------------------
    def _day(self, d: str) -> float:
        """Epoch seconds of 00:00 UTC of an SBS date ``YYYY/MM/DD`` (cached)."""
        if len(d) != 10 or d[4] != "/" or d[7] != "/":
            raise ValueError(d)
        y, m, dd = int(d[:4]), int(d[5:7]), int(d[8:10])
        if not (1 <= m <= 12 and 1 <= dd <= 31 and y >= 1970):
            raise ValueError(d)
        day = float(calendar.timegm((y, m, dd, 0, 0, 0)))
        if len(self._dates) > 64:
            self._dates.clear()
        self._dates[d] = day
        return day

    def _minute(self, hhmm: str) -> float:
        """Seconds of day of ``HH:MM:`` (cached: 1 440 entries at most)."""
        if len(hhmm) != 6 or hhmm[2] != ":" or hhmm[5] != ":":
            raise ValueError(hhmm)
        hh, mm = int(hhmm[:2]), int(hhmm[3:5])
        if not (0 <= hh < 24 and 0 <= mm < 60):
            raise ValueError(hhmm)
        self._minutes[hhmm] = base = float(hh * 3600 + mm * 60)
        return base

    def _lines(self, lines: list[str], now: float, rows: Rows) -> None:
        aircraft = self._aircraft
        dates = self._dates
        day_of = self._day
        max_age = self.max_age_s
        need_vel = self.require_velocity
        source = self.time_source
        offset = self.utc_offset_s
        bad = self._bad
        ids_a, vals_a = rows.ids.append, rows.vals.append
        minutes = self._minutes
        line_no = self._line_no
        decoded = ignored = 0
        t = -_INF
        for line in lines:
            line_no += 1
            f = line.split(",")
            n = len(f)
            if n < 10 or f[0] != "MSG":
                kind = f[0].strip()
                if kind in _IGNORED_KINDS:
                    ignored += 1
                elif kind == "MSG":
                    bad(rows, line_no, line, f"fields: {n} is too few for an MSG line")
                elif kind or n > 1:
                    bad(rows, line_no, line, f"message type: {kind[:20]!r} is not an SBS record")
                else:
                    line_no -= 1  # blank line: not a message
                continue
            tt = f[1]
            hexid = f[4]
            ac = aircraft.get(hexid)
            if ac is None:
                h = hexid.strip().lower()
                if not (
                    (len(h) == 6 and _HEX.issuperset(h))
                    or (len(h) == 7 and h[0] == "~" and _HEX.issuperset(h[1:]))
                ):
                    bad(rows, line_no, line, f"hex ident: not a 24-bit address: {hexid[:20]!r}")
                    continue
                ac = aircraft.get(h)
                if ac is None:
                    ac = _Aircraft(h)
                    aircraft[h] = ac
                if len(aircraft) < 1_000_000:
                    aircraft[hexid] = ac  # raw spelling -> same state (fast path next time)
            tid = ac.tid
            # time of the message
            if source == "receive":
                t = now
            else:
                if source == "logged" and f[9]:
                    d, tm, which = f[8], f[9], "time logged"
                elif f[7]:
                    d, tm, which = f[6], f[7], "time generated"
                elif f[9]:
                    d, tm, which = f[8], f[9], "time logged"
                else:
                    d = tm = which = ""
                if tm:
                    try:
                        day = dates.get(d)
                        if day is None:
                            day = day_of(d)
                        base = minutes.get(tm[:6])
                        if base is None:
                            base = self._minute(tm[:6])
                        sec = float(tm[6:])
                        if not 0.0 <= sec < 61.0:
                            raise ValueError(tm)
                        t = day + base + sec - offset
                    except (ValueError, IndexError):
                        bad(rows, line_no, line, f"{which}: not 'YYYY/MM/DD','HH:MM:SS.sss'")
                        continue
                else:
                    t = now
            try:
                if tt == "3" or tt == "2":
                    if n < 16:
                        raise IndexError
                    field = "lat"
                    lat = float(f[14])
                    field = "lon"
                    lon = float(f[15])
                    if not (-90.0 <= lat <= 90.0):
                        bad(rows, line_no, line, f"lat: outside [-90, 90]: {f[14][:20]!r}")
                        continue
                    if not (-180.0 <= lon <= 180.0):
                        bad(rows, line_no, line, f"lon: outside [-180, 180]: {f[15][:20]!r}")
                        continue
                    field = "altitude"
                    if f[11]:
                        alt = float(f[11])
                        if not (-2000.0 <= alt <= 200000.0):
                            raise ValueError
                        ac.alt_ft = alt
                        ac.t_alt = t
                    if n > 21 and f[21]:
                        ac.ground = f[21] not in ("0", "")
                    if tt == "2":
                        field = "ground speed"
                        gs = float(f[12]) if f[12] else NAN
                        field = "track"
                        trk = float(f[13]) if f[13] else NAN
                        decoded += 1
                        if gs == gs or not need_vel:
                            ids_a(tid)
                            vals_a(
                                (
                                    t,
                                    lat,
                                    lon,
                                    ac.alt_ft * FT_TO_M if t - ac.t_alt <= max_age else NAN,
                                    gs * KT_TO_MPS,
                                    trk,
                                    0.0,
                                )
                            )
                        continue
                    decoded += 1
                    if t - ac.t_vel <= max_age:
                        ids_a(tid)
                        vals_a(
                            (
                                t,
                                lat,
                                lon,
                                ac.alt_ft * FT_TO_M if t - ac.t_alt <= max_age else NAN,
                                ac.gs_kt * KT_TO_MPS,
                                ac.trk,
                                ac.vr_fpm * FPM_TO_MPS,
                            )
                        )
                    elif not need_vel:
                        ids_a(tid)
                        vals_a(
                            (
                                t,
                                lat,
                                lon,
                                ac.alt_ft * FT_TO_M if t - ac.t_alt <= max_age else NAN,
                                NAN,
                                NAN,
                                NAN,
                            )
                        )
                elif tt == "4":
                    if n < 17:
                        raise IndexError
                    field = "ground speed"
                    gs = float(f[12])
                    field = "track"
                    trk = float(f[13])
                    field = "vertical rate"
                    vr = float(f[16]) if f[16] else NAN
                    if not (-100000.0 <= vr <= 100000.0):
                        vr = NAN
                    if not (0.0 <= gs < 5000.0):
                        bad(rows, line_no, line, f"ground speed: outside [0, 5000) kt: {f[12]!r}")
                        continue
                    ac.gs_kt = gs
                    ac.trk = trk % 360.0
                    ac.vr_fpm = vr
                    ac.t_vel = t
                    decoded += 1
                elif tt == "1":
                    ac.callsign = f[10].strip()[:8] if n > 10 else ""
                    ac.t_id = t
                    decoded += 1
                elif tt == "5" or tt == "6" or tt == "7":
                    field = "altitude"
                    if n > 11 and f[11]:
                        alt = float(f[11])
                        if not (-2000.0 <= alt <= 200000.0):
                            raise ValueError
                        ac.alt_ft = alt
                        ac.t_alt = t
                    if tt == "6" and n > 17 and f[17]:
                        ac.squawk = f[17].strip()
                        ac.t_id = t
                    decoded += 1
                elif tt == "8":
                    decoded += 1
                else:
                    bad(rows, line_no, line, f"transmission type: {tt[:10]!r} not in 1..8")
            except ValueError:
                bad(rows, line_no, line, f"{field}: not a number or out of range")
            except IndexError:
                bad(rows, line_no, line, f"fields: {n} is too few for MSG,{tt}")
        self._line_no = line_no
        if decoded and t - self._swept > _SWEEP_S:
            self._sweep(t)
        if decoded or ignored:
            self.counters.add(decoded=decoded, ignored=ignored)
