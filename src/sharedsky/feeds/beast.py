"""Beast binary (the port-30005 output of dump1090 and readsb) -> track states, with pyModeS.

**Frames.** Each frame is ``0x1a``, a type byte, a 6-byte MLAT timestamp (a 12 MHz counter,
big-endian), one signal-level byte and the message: type ``'1'`` (0x31) Mode-A/C, 2 bytes;
``'2'`` (0x32) Mode-S short, 7 bytes; ``'3'`` (0x33) Mode-S long, 14 bytes. A ``0x1a`` byte
inside the timestamp, signal or message is sent doubled (``0x1a 0x1a``). Frames are split with
``bytes.find``; only a frame that contains ``0x1a`` is unescaped byte by byte. A frame cut short
by the start of the next one, an unknown type byte or bytes outside any frame are rejected (one
reject per run of junk) and decoding resumes at the next ``0x1a <type>``; a truncated frame at
the end of a stream is rejected by :meth:`BeastDecoder.flush`.

**Messages.** Decoding uses pyModeS (its BDS decoders, CRC and CPR functions), called only for
the messages that matter, with the state kept per aircraft:

* DF17/18 extended squitter with a valid CRC (a bad CRC is rejected): TC 1–4 identification
  (callsign), TC 9–18 and 20–22 airborne position (barometric / GNSS altitude, CPR), TC 19
  velocity (ground speed and track; for the air-speed subtypes the air speed and heading stand in
  for them), TC 5–8 surface position (decoded locally against the aircraft's last position);
* DF4/DF20 altitude replies of an aircraft already known from its squitters (the address is
  the CRC remainder) update its altitude;
* everything else (Mode-A/C, all-call replies, other Comm-B, status squitters) is *ignored*.

**CPR.** An airborne position is decoded *locally* against the aircraft's last position when that
is at most ``local_window_s`` (30 s) old; otherwise *globally* from the latest even/odd pair when
the two frames are at most ``pair_window_s`` (10 s) apart. A global fix that lies more than
``max_jump_km`` from a recent position is discarded (a corrupt frame). A state is emitted for
every decoded position once the velocity is known and fresh (``max_age_s``, 10 s), as in
:mod:`sharedsky.feeds.sbs`; altitude is attached when fresh too.

**Times.** With ``mlat_epoch`` given (a replay of a recording whose counter started at a known
epoch), ``t = mlat_epoch + counter / 12e6``. Otherwise a frame's time is the receive time ``now``
of its chunk, moved back by the counter difference to the newest frame of that chunk, clamped at
60 s: frames of one chunk keep their true spacing and order (a live read spans milliseconds; a
bulk read of an old recording piles its older part at ``now - 60 s``), and a zero counter
gives ``now``. For a recording, ``mlat_epoch=0.0`` gives times relative to the counter's start
(what a replay that re-times its output needs). Track ids are the lower-case ICAO address
(``~`` prefix for a DF18 non-ICAO one).

**Counting.** Every frame (and every run of junk bytes) is one message: *decoded* when it updated
an aircraft (identification, position — even a lone CPR half kept for its pair —, velocity,
altitude), *rejected* when malformed or failing CRC, *ignored* otherwise.
"""

from __future__ import annotations

import logging
import math

from pyModeS._altcode import altcode_to_altitude
from pyModeS._bits import crc_remainder
from pyModeS.decoder.bds.bds05 import decode_bds05
from pyModeS.decoder.bds.bds06 import decode_bds06
from pyModeS.decoder.bds.bds08 import decode_bds08
from pyModeS.decoder.bds.bds09 import decode_bds09
from pyModeS.position import (
    airborne_position_pair,
    airborne_position_with_ref,
    surface_position_with_ref,
)

from sharedsky.errors import InvalidInput
from sharedsky.feeds._adsb import FPM_TO_MPS, FT_TO_M, KT_TO_MPS, NAN, BadInput, Rows
from sharedsky.feeds.decoding import DecoderCounters
from sharedsky.model.tracks import TrackBatch

__all__ = ["BeastDecoder", "beast_frame"]

_log = logging.getLogger(__name__)

_ESC = 0x1A
#: type byte -> message length (bytes); each frame also has 6 timestamp bytes and 1 signal byte.
_MSG_LEN = {0x31: 2, 0x32: 7, 0x33: 14}
_MLAT_HZ = 12_000_000.0
_ME_MASK = (1 << 56) - 1
_INF = math.inf
_SWEEP_S = 60.0  # data seconds between sweeps of the aircraft table
_FORGET_S = 600.0  # an aircraft silent this long is forgotten
_MAX_BACKDATE = 60 * 12_000_000  # counter ticks
_DEG_KM = 111.195


def beast_frame(message: bytes, counter: int = 0, signal: int = 0) -> bytes:
    """One Beast frame (escaped) for a 2-, 7- or 14-byte message: the inverse of the splitter.

    ``counter`` is the 12 MHz MLAT timestamp (48 bits), ``signal`` the signal byte.
    """
    types = {2: 0x31, 7: 0x32, 14: 0x33}
    if len(message) not in types:
        raise InvalidInput(f"length {len(message)} is not 2, 7 or 14 bytes", "message")
    if not (0 <= counter < 1 << 48):
        raise InvalidInput("must fit in 48 bits", "counter")
    if not (0 <= signal < 256):
        raise InvalidInput("must be a byte", "signal")
    body = counter.to_bytes(6, "big") + bytes((signal,)) + bytes(message)
    return bytes((_ESC, types[len(message)])) + body.replace(b"\x1a", b"\x1a\x1a")


class _Aircraft:
    __slots__ = (
        "alt_ft",
        "callsign",
        "even",
        "gs_kt",
        "lat",
        "lon",
        "odd",
        "t_alt",
        "t_id",
        "t_pos",
        "t_vel",
        "tid",
        "trk",
        "vr_fpm",
    )

    def __init__(self, tid: str) -> None:
        self.tid = tid
        self.callsign = ""
        self.alt_ft = NAN
        self.t_alt = -_INF
        self.t_id = -_INF
        self.gs_kt = NAN
        self.trk = NAN
        self.vr_fpm = NAN
        self.t_vel = -_INF
        self.lat = NAN
        self.lon = NAN
        self.t_pos = -_INF
        self.even: tuple[float, int, int] | None = None
        self.odd: tuple[float, int, int] | None = None


class BeastDecoder:
    """Incremental Beast decoder (see the module docstring for framing, CPR, times, counts).

    ``callsign(icao)`` gives the last identification of an aircraft; ``position(icao)`` its last
    decoded ``(t, lat, lon)``.
    """

    name = "beast"

    def __init__(
        self,
        *,
        mlat_epoch: float | None = None,
        max_age_s: float = 10.0,
        pair_window_s: float = 10.0,
        local_window_s: float = 30.0,
        max_jump_km: float = 50.0,
        require_velocity: bool = True,
        on_invalid: str = "collect",
    ) -> None:
        for name, v in (
            ("max_age_s", max_age_s),
            ("pair_window_s", pair_window_s),
            ("local_window_s", local_window_s),
            ("max_jump_km", max_jump_km),
        ):
            if not (v >= 0 and math.isfinite(v)):
                raise InvalidInput("must be a finite number >= 0", name)
        if mlat_epoch is not None and not math.isfinite(mlat_epoch):
            raise InvalidInput("must be finite", "mlat_epoch")
        self.mlat_epoch = mlat_epoch
        self.max_age_s = float(max_age_s)
        self.pair_window_s = float(pair_window_s)
        self.local_window_s = float(local_window_s)
        self.max_jump_km = float(max_jump_km)
        self.require_velocity = bool(require_velocity)
        self.counters = DecoderCounters()
        self._bad = BadInput("beast", on_invalid, self.counters, _log)
        self._aircraft: dict[int, _Aircraft] = {}
        self._tail = b""
        self._index = 0
        self._swept = -_INF

    # -- public -----------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> TrackBatch:
        rows = Rows()
        buf = self._tail + bytes(data) if self._tail else bytes(data)
        frames, self._tail = self._split(buf, rows)
        if frames:
            self._decode(frames, now, rows)
        return rows.batch()

    def flush(self, now: float) -> TrackBatch:
        rows = Rows()
        if self._tail:
            self._index += 1
            raw = self._tail[:64].hex()
            self._bad(rows, self._index, raw, "frame: truncated at end of stream")
        self._tail = b""
        return rows.batch()

    def callsign(self, icao: str) -> str | None:
        """Last callsign of ``icao`` (hex), or None."""
        ac = self._aircraft.get(int(icao, 16)) if _is_hex(icao) else None
        return ac.callsign or None if ac is not None else None

    def position(self, icao: str) -> tuple[float, float, float] | None:
        """Last decoded ``(t, lat, lon)`` of ``icao`` (hex), or None."""
        ac = self._aircraft.get(int(icao, 16)) if _is_hex(icao) else None
        if ac is None or ac.lat != ac.lat:
            return None
        return ac.t_pos, ac.lat, ac.lon

    # -- framing ----------------------------------------------------------------------------
    def _junk(self, rows: Rows, raw: bytes, reason: str) -> None:
        self._index += 1
        self._bad(rows, self._index, raw[:64].hex(), reason)

    def _split(self, buf: bytes, rows: Rows) -> tuple[list[tuple[int, int, bytes]], bytes]:
        """Complete frames ``(index, counter, message)`` of ``buf`` and the incomplete tail."""
        frames: list[tuple[int, int, bytes]] = []
        append = frames.append
        find = buf.find
        n = len(buf)
        i = 0
        while i < n:
            j = find(b"\x1a", i)
            if j < 0:
                self._junk(rows, buf[i:], "bytes: outside a Beast frame")
                return frames, b""
            if j > i:
                self._junk(rows, buf[i:j], "bytes: outside a Beast frame")
            if j + 1 >= n:
                return frames, buf[j:]
            mlen = _MSG_LEN.get(buf[j + 1])
            if mlen is None:
                # 0x1a followed by junk (or a stray doubled 0x1a): skip to the next marker
                k = find(b"\x1a", j + 2 if buf[j + 1] == _ESC else j + 1)
                k = n if k < 0 else k
                self._junk(rows, buf[j:k], f"frame type: 0x{buf[j + 1]:02x} is not 0x31..0x33")
                i = k
                continue
            need = 7 + mlen
            end = j + 2 + need
            if end > n:
                if find(b"\x1a", j + 2) < 0:
                    return frames, buf[j:]
                end = n  # a marker inside: unescape to find out whether it is complete
            body = buf[j + 2 : end]
            if len(body) == need and _ESC not in body:
                self._index += 1
                append((self._index, int.from_bytes(body[:6], "big"), body[7:]))
                i = end
                continue
            # slow path: unescape byte by byte
            out = bytearray()
            k = j + 2
            cut = False
            while len(out) < need:
                if k >= n:
                    return frames, buf[j:]
                c = buf[k]
                if c == _ESC:
                    if k + 1 >= n:
                        return frames, buf[j:]
                    if buf[k + 1] != _ESC:
                        cut = True
                        break
                    k += 2
                else:
                    k += 1
                out.append(c)
            if cut:
                self._junk(rows, buf[j:k], "frame: truncated (next frame started)")
                i = k
                continue
            self._index += 1
            append((self._index, int.from_bytes(out[:6], "big"), bytes(out[7:])))
            i = k
        return frames, b""

    # -- decoding ---------------------------------------------------------------------------
    def _decode(self, frames: list[tuple[int, int, bytes]], now: float, rows: Rows) -> None:
        aircraft = self._aircraft
        max_age = self.max_age_s
        pair_win = self.pair_window_s
        local_win = self.local_window_s
        jump_deg = self.max_jump_km / _DEG_KM
        need_vel = self.require_velocity
        bad = self._bad
        ids_a, vals_a = rows.ids.append, rows.vals.append
        if self.mlat_epoch is not None:
            epoch = self.mlat_epoch
            top = None
        else:
            epoch = now
            top = max(f[1] for f in frames)
        decoded = ignored = 0
        for index, counter, msg in frames:
            if top is None:
                t = epoch + counter / _MLAT_HZ
            elif counter:
                back = top - counter
                t = epoch - (back if back < _MAX_BACKDATE else _MAX_BACKDATE) / _MLAT_HZ
            else:
                t = epoch
            ml = len(msg)
            if ml == 2:
                ignored += 1
                continue
            df = msg[0] >> 3
            if ml == 14 and (df == 17 or df == 18):
                n = int.from_bytes(msg, "big")
                if crc_remainder(n, 112):
                    bad(rows, index, msg.hex(), "crc: extended squitter parity check failed")
                    continue
                icao = (n >> 80) & 0xFFFFFF
                key = icao
                if df == 18 and (msg[0] & 7) in (1, 3, 5):  # non-ICAO address
                    key = icao | 1 << 24
                ac = aircraft.get(key)
                if ac is None:
                    tid = f"{icao:06x}" if key == icao else f"~{icao:06x}"
                    ac = _Aircraft(tid)
                    aircraft[key] = ac
                me = (n >> 24) & _ME_MASK
                tc = me >> 51
                if 9 <= tc <= 18 or 20 <= tc <= 22:
                    r = decode_bds05(me, tc=tc)
                    alt = r["altitude"]
                    if alt is not None:
                        ac.alt_ft = alt
                        ac.t_alt = t
                    fmt, clat, clon = r["cpr_format"], r["cpr_lat"], r["cpr_lon"]
                    if fmt:
                        ac.odd = (t, clat, clon)
                        other = ac.even
                    else:
                        ac.even = (t, clat, clon)
                        other = ac.odd
                    decoded += 1
                    pos = None
                    if t - ac.t_pos <= local_win:
                        pos = airborne_position_with_ref(fmt, clat, clon, ac.lat, ac.lon)
                        if abs(pos[0] - ac.lat) > jump_deg:
                            pos = None
                    if pos is None and other is not None and abs(t - other[0]) <= pair_win:
                        if fmt:
                            pos = airborne_position_pair(
                                other[1], other[2], clat, clon, even_is_newer=False
                            )
                        else:
                            pos = airborne_position_pair(
                                clat, clon, other[1], other[2], even_is_newer=True
                            )
                        if (
                            pos is not None
                            and t - ac.t_pos <= local_win
                            and (
                                abs(pos[0] - ac.lat) > jump_deg
                                or abs(((pos[1] - ac.lon + 180.0) % 360.0) - 180.0)
                                * math.cos(math.radians(pos[0]))
                                > jump_deg
                            )
                        ):
                            pos = None
                    if pos is None:
                        continue
                    lat, lon = pos
                    if not -90.0 <= lat <= 90.0:
                        continue
                    lon = (lon + 180.0) % 360.0 - 180.0
                    ac.lat, ac.lon, ac.t_pos = lat, lon, t
                    fresh_vel = t - ac.t_vel <= max_age
                    if fresh_vel or not need_vel:
                        alt_m = ac.alt_ft * FT_TO_M if t - ac.t_alt <= max_age else NAN
                        ids_a(ac.tid)
                        if fresh_vel:
                            vals_a(
                                (
                                    t,
                                    lat,
                                    lon,
                                    alt_m,
                                    ac.gs_kt * KT_TO_MPS,
                                    ac.trk,
                                    ac.vr_fpm * FPM_TO_MPS,
                                )
                            )
                        else:
                            vals_a((t, lat, lon, alt_m, NAN, NAN, NAN))
                elif tc == 19:
                    r = decode_bds09(me)
                    st = r["subtype"]
                    if st == 1 or st == 2:
                        gs, trk = r["groundspeed"], r["track"]
                    elif st == 3 or st == 4:
                        gs, trk = r["airspeed"], r["heading"]
                    else:
                        gs = trk = None
                    if gs is None or trk is None:
                        ignored += 1
                        continue
                    vr = r["vertical_rate"]
                    ac.gs_kt = float(gs)
                    ac.trk = float(trk)
                    ac.vr_fpm = NAN if vr is None else float(vr)
                    ac.t_vel = t
                    decoded += 1
                elif 1 <= tc <= 4:
                    ac.callsign = decode_bds08(me)["callsign"].strip("_ #")
                    ac.t_id = t
                    decoded += 1
                elif 5 <= tc <= 8:
                    if t - ac.t_pos > local_win:
                        ignored += 1
                        continue
                    r = decode_bds06(me)
                    lat, lon = surface_position_with_ref(
                        r["cpr_format"], r["cpr_lat"], r["cpr_lon"], ac.lat, ac.lon
                    )
                    if abs(lat - ac.lat) > jump_deg or not -90.0 <= lat <= 90.0:
                        ignored += 1
                        continue
                    lon = (lon + 180.0) % 360.0 - 180.0
                    ac.lat, ac.lon, ac.t_pos = lat, lon, t
                    decoded += 1
                    gs, trk = r.get("groundspeed"), r.get("track")
                    ids_a(ac.tid)
                    vals_a(
                        (
                            t,
                            lat,
                            lon,
                            NAN,
                            NAN if gs is None else gs * KT_TO_MPS,
                            NAN if trk is None else float(trk),
                            0.0,
                        )
                    )
                else:
                    ignored += 1
            elif df == 4 or df == 20:
                if ml != (7 if df == 4 else 14):
                    bad(rows, index, msg.hex(), f"length: DF{df} in a {ml}-byte frame")
                    continue
                n = int.from_bytes(msg, "big")
                ac = aircraft.get(crc_remainder(n, ml * 8))
                if ac is None:
                    ignored += 1
                    continue
                alt = altcode_to_altitude((n >> (ml * 8 - 33)) & 0x1FFF)
                if alt is None:
                    ignored += 1
                    continue
                ac.alt_ft = alt
                ac.t_alt = t
                decoded += 1
            else:
                ignored += 1
        if decoded and t - self._swept > _SWEEP_S:
            self._sweep(t)
        if decoded or ignored:
            self.counters.add(decoded=decoded, ignored=ignored)

    def _sweep(self, t: float) -> None:
        """Forget aircraft silent for ``_FORGET_S`` (bounded memory on a long-running feed)."""
        self._swept = t
        old = t - _FORGET_S
        stale = [k for k, ac in self._aircraft.items() if _last_heard(ac) < old]
        for k in stale:
            del self._aircraft[k]


def _last_heard(ac: _Aircraft) -> float:
    even = ac.even[0] if ac.even is not None else -_INF
    odd = ac.odd[0] if ac.odd is not None else -_INF
    return max(ac.t_pos, ac.t_vel, ac.t_alt, ac.t_id, even, odd)


def _is_hex(s: str) -> bool:
    try:
        int(s, 16)
    except ValueError:
        return False
    return True
