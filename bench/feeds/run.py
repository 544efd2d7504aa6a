"""Benchmark of the ADS-B feed decoders: decoded position updates per second on ONE core.

Two inputs, both derived from real recordings in ``../shared/data/adsb`` and built in memory:

* **SBS-1**: ``traffic_quickstart.json.gz`` (284 505 real positions, Paris, 3 h) written as
  dump1090 port-30003 lines by :mod:`sharedsky.feeds.sbs_writer` (DERIVED: identification,
  velocity, airborne/surface position and squawk messages, ~511 000 lines).
* **Beast**: the 2 000 real DF17 frames of ``pymodes_sample_data_adsb.csv`` (one aircraft),
  copied for ``--aircraft`` ICAO addresses (DERIVED: new address, CRC recomputed), interleaved in
  time and wrapped in Beast frames with a 12 MHz MLAT counter.

Each input is decoded from raw bytes in 64 KiB chunks by our decoder
(:class:`~sharedsky.feeds.sbs.SbsDecoder`, :class:`~sharedsky.feeds.beast.BeastDecoder`) and, in
the same run, by a plain loop: for Beast, pyModeS's own streaming decoder (``PipeDecoder.decode``
per message, CPR pairs and local decoding included) on the frames already split into hex strings
(the split is not timed); for SBS, which pyModeS does not read, the obvious loop (``csv.reader``,
``datetime.strptime``, a dict per aircraft, the same merging rule). Figures: position updates
(track states for SBS, decoded airborne positions for Beast) per second of CPU on one pinned
core, the median of ``--repeat`` runs, and our rate over the plain loop's.

Run: ``.venv/bin/python bench/feeds/run.py`` (``--help`` for options). Not part of the tests.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyModeS as pms
from pyModeS._bits import crc_remainder

from sharedsky.feeds.beast import BeastDecoder, beast_frame
from sharedsky.feeds.sbs import SbsDecoder
from sharedsky.feeds.sbs_writer import sbs_lines

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 65536


def _pin(core: int | None) -> int:
    cores = sorted(os.sched_getaffinity(0))
    c = cores[-1] if core is None else core
    os.sched_setaffinity(0, {c})
    return c


def _timed(fn: Callable[[], int], repeat: int) -> tuple[float, int, list[float]]:
    runs, count = [], 0
    for _ in range(repeat):
        t0 = time.process_time()
        count = fn()
        runs.append(time.process_time() - t0)
    return statistics.median(runs), count, runs


# -- SBS ------------------------------------------------------------------------------------------
def sbs_input(shared: Path) -> bytes:
    df = pd.read_json(shared / "data" / "adsb" / "traffic_quickstart.json.gz")
    return ("\r\n".join(sbs_lines(df)) + "\r\n").encode("ascii")


def sbs_ours(data: bytes) -> int:
    dec = SbsDecoder()
    n = 0
    for i in range(0, len(data), CHUNK):
        n += len(dec.feed(data[i : i + CHUNK], 0.0))
    n += len(dec.flush(0.0))
    return n


def sbs_plain(data: bytes) -> int:
    """The obvious SBS loop: csv module, strptime, a dict per aircraft, same merging rule."""
    state: dict[str, dict[str, float]] = {}
    n = 0
    for row in csv.reader(io.StringIO(data.decode("ascii"))):
        if len(row) < 22 or row[0] != "MSG":
            continue
        t = (
            datetime.strptime(f"{row[8]} {row[9]}", "%Y/%m/%d %H:%M:%S.%f")
            .replace(tzinfo=UTC)
            .timestamp()
        )
        s = state.setdefault(row[4], {"t_vel": -1e18, "t_alt": -1e18})
        tt = row[1]
        if tt == "4":
            s["gs"], s["trk"], s["t_vel"] = float(row[12]), float(row[13]), t
            s["vr"] = float(row[16]) if row[16] else float("nan")
        elif tt in ("3", "2"):
            lat, lon = float(row[14]), float(row[15])
            if row[11]:
                s["alt"], s["t_alt"] = float(row[11]), t
            if tt == "2":
                if row[12]:
                    n += 1
            elif t - s["t_vel"] <= 10.0 and -90 <= lat <= 90 and -180 <= lon <= 180:
                n += 1
        elif tt in ("5", "6", "7") and row[11]:
            s["alt"], s["t_alt"] = float(row[11]), t
    return n


# -- Beast ----------------------------------------------------------------------------------------
def beast_input(shared: Path, aircraft: int) -> tuple[bytes, float, list[tuple[float, str]]]:
    with open(shared / "data" / "adsb" / "pymodes_sample_data_adsb.csv") as f:
        rows = [(float(r[0]), r[1]) for r in csv.reader(f)]
    msgs: list[tuple[float, str]] = []
    for k in range(aircraft):
        icao = 0x406B90 + 0x100 * k if k else 0x406B90
        for t, h in rows:
            n = int(h, 16)
            n = (n & ~(0xFFFFFF << 80)) | (icao << 80)
            n &= ~0xFFFFFF
            n |= crc_remainder(n, 112)
            msgs.append((t + k * 0.001, f"{n:028X}"))
    msgs.sort(key=lambda m: m[0])
    t0 = msgs[0][0]
    data = b"".join(
        beast_frame(bytes.fromhex(h), round((t - t0) * 12e6) + i) for i, (t, h) in enumerate(msgs)
    )
    return data, t0, msgs


def beast_ours(data: bytes, t0: float) -> int:
    dec = BeastDecoder(mlat_epoch=t0)
    n = 0
    for i in range(0, len(data), CHUNK):
        n += len(dec.feed(data[i : i + CHUNK], 0.0))
    n += len(dec.flush(0.0))
    return n


def beast_positions(data: bytes, t0: float) -> int:
    """Airborne positions our decoder resolves (states need a velocity too)."""
    dec = BeastDecoder(mlat_epoch=t0, require_velocity=False)
    return len(dec.feed(data, 0.0))


def beast_plain(msgs: list[tuple[float, str]]) -> int:
    pipe = pms.PipeDecoder()
    out = [pipe.decode(h, timestamp=t) for t, h in msgs]
    return sum(1 for r in out if r.get("latitude") is not None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--core", type=int, default=None, help="CPU core to pin to (default: last)")
    ap.add_argument("--aircraft", type=int, default=50, help="Beast: copies of the CSV aircraft")
    args = ap.parse_args(argv)
    core = _pin(args.core)
    print(f"# sharedsky feeds benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"# host {platform.machine()}, {os.cpu_count()} logical cores, pinned to core {core}; "
        f"python {platform.python_version()}, pyModeS {pms.__version__}; "
        f"CPU time, median of {args.repeat}"
    )
    sbs = sbs_input(args.shared)
    lines = sbs.count(b"\n")
    t_ours, n_ours, r_ours = _timed(lambda: sbs_ours(sbs), args.repeat)
    t_plain, n_plain, _ = _timed(lambda: sbs_plain(sbs), args.repeat)
    print(f"# SBS-1 (derived from traffic_quickstart): {lines} lines, {len(sbs) / 1e6:.1f} MB")
    print(
        f"SBS   ours   {n_ours:8d} position updates in {t_ours:6.3f} s = "
        f"{n_ours / t_ours:10.0f} /s  ({lines / t_ours:.0f} lines/s; runs "
        + ", ".join(f"{r:.3f}" for r in r_ours)
        + ")"
    )
    print(
        f"SBS   plain  {n_plain:8d} position updates in {t_plain:6.3f} s = "
        f"{n_plain / t_plain:10.0f} /s  (csv.reader + strptime + dict)"
    )
    print(f"SBS   ratio  {(n_ours / t_ours) / (n_plain / t_plain):.1f}x  (target >= 100 000 /s)")
    beast, t0, msgs = beast_input(args.shared, args.aircraft)
    npos = beast_positions(beast, t0)
    b_ours, nb_ours, rb = _timed(lambda: beast_ours(beast, t0), args.repeat)
    b_plain, nb_plain, _ = _timed(lambda: beast_plain(msgs), args.repeat)
    print(
        f"# Beast (derived from pymodes_sample_data_adsb: {args.aircraft} aircraft x 2000 DF17 "
        f"frames): {len(msgs)} frames, {len(beast) / 1e6:.1f} MB"
    )
    print(
        f"Beast ours   {npos:8d} positions ({nb_ours} states) in {b_ours:6.3f} s = "
        f"{npos / b_ours:10.0f} positions/s  ({len(msgs) / b_ours:.0f} frames/s; runs "
        + ", ".join(f"{r:.3f}" for r in rb)
        + ")"
    )
    print(
        f"Beast plain  {nb_plain:8d} positions in {b_plain:6.3f} s = "
        f"{nb_plain / b_plain:10.0f} positions/s  (pyModeS PipeDecoder.decode per message)"
    )
    print(f"Beast ratio  {(npos / b_ours) / (nb_plain / b_plain):.1f}x  (target >= 20 000 /s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
