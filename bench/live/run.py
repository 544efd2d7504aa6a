"""Benchmark of the live tactical service: ingest rate and position-to-alert latency.

Both run against a real ``sharedsky serve`` subprocess on loopback (SQLite in a temporary
folder), pinned to ONE core with ``taskset`` (the benchmark client runs on the other cores), and
the server's detection loop running as in production (default live configuration: 5 NM /
1000 ft, 300 s look-ahead, at least 1 Hz, at most 5 Hz when data arrive).

* ``ingest``: batches of ``--batch`` states of ``--tracks`` tracks (each round moves every track
  by its speed over 0.05 s of report time, so nothing is stale or implausible), pushed for
  ``--seconds`` each through four paths: HTTP POST with the columnar JSON body, HTTP POST with an
  Arrow IPC stream, WebSocket text (columnar JSON) and WebSocket binary (Arrow). Two client
  connections per path keep the server busy while a reply travels. Printed: accepted position
  updates per second (server-side acceptance counted from the replies), flagged/stale counts.
* ``latency``: ``--tracks`` live tracks (default 10 000, four parties, on parallel tracks at
  16 flight levels 2 000 ft apart and 20 NM apart on each level, so they raise no alert) are
  reported at 1 Hz, in ten batches of a tenth every 100 ms. Every ``--every`` seconds a new pair
  of tracks of two parties appears head-on 3 NM apart at FL60 in an empty area (a WARNING).
  Latency = time the alert is received on the WebSocket alert stream of a connected party
  (both parties are connected) minus the time the pair's first position was sent. Printed:
  p50, p90, p99 and max over the deliveries, the alerts raised about anything else (the fleet's
  layout must raise none) and the size of one party's picture at the end.

Run: ``.venv/bin/python bench/live/run.py`` (both parts; ``ingest`` or ``latency`` for one;
``--help`` for options). Not part of the tests.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from sharedsky.client import (
    AlertListener,
    LiveClient,
    ServerProcess,
    TokenSource,
    batch_to_json,
)
from sharedsky.model.tracks import TrackBatch
from sharedsky.units import FT_TO_M, KT_TO_MPS, NM_TO_M

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CERTS = SHARED / "spec" / "test-certs"
EARTH_M_PER_DEG = 111_195.0


class PinnedServer(ServerProcess):
    """``sharedsky serve`` pinned to the given CPU cores with ``taskset``."""

    def __init__(self, *args: Any, cores: str = "0", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cores = cores

    def command(self) -> list[str]:
        return ["taskset", "-c", self.cores, *super().command(), "--log-level", "warning"]


# -- traffic -------------------------------------------------------------------------------------


@dataclass
class Fleet:
    """Tracks in a conflict-free layout: levels 2000 ft apart, a 20 NM grid per level, every
    track flying east at 250 kt, level."""

    ids: np.ndarray
    party: np.ndarray
    lat: np.ndarray
    lon0: np.ndarray
    alt_m: np.ndarray
    gs_mps: float = 250 * KT_TO_MPS

    @classmethod
    def build(cls, n: int, parties: Sequence[str], lat0: float = 40.0) -> Fleet:
        levels = 16
        per_level = math.ceil(n / levels)
        side = math.ceil(math.sqrt(per_level))
        k = np.arange(n)
        level = k % levels
        cell = k // levels
        row, col = cell // side, cell % side
        spacing_deg = 20 * NM_TO_M / EARTH_M_PER_DEG
        lat = lat0 + row * spacing_deg
        lon0 = -20.0 + col * spacing_deg / np.cos(np.radians(lat))
        return cls(
            ids=np.array([f"f{i:06d}" for i in k], dtype=object),
            party=np.array([parties[i % len(parties)] for i in k], dtype=object),
            lat=lat,
            lon0=lon0,
            alt_m=(10_000 + 2_000 * level) * FT_TO_M,
        )

    def batch(self, idx: np.ndarray, t: float, t0: float) -> TrackBatch:
        dlon = self.gs_mps * (t - t0) / (EARTH_M_PER_DEG * np.cos(np.radians(self.lat[idx])))
        n = idx.size
        return TrackBatch.from_arrays(
            self.ids[idx],
            np.full(n, t),
            self.lat[idx],
            self.lon0[idx] + dlon,
            self.alt_m[idx],
            np.full(n, self.gs_mps),
            np.full(n, 90.0),
            np.zeros(n),
        )


def arrow_body(batch: TrackBatch) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    cols = batch.columns()
    table = pa.table(
        {
            "track_id": pa.array(cols["track_id"].tolist(), pa.string()),
            **{k: pa.array(v) for k, v in cols.items() if k != "track_id"},
        }
    )
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


# -- ingest --------------------------------------------------------------------------------------


@dataclass
class Counts:
    accepted: int = 0
    flagged: int = 0
    stale: int = 0
    rejected: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, body: dict[str, Any]) -> None:
        self.accepted += int(body.get("accepted", 0))
        self.flagged += int(body.get("flagged", 0))
        self.stale += int(body.get("stale", 0))
        self.rejected += len(body.get("rejected", []))
        self.requests += 1


def _sender(
    mode: str,
    url: str,
    token: str,
    fleet: Fleet,
    lane: int,
    lanes: int,
    batch_size: int,
    stop_at: float,
    t0: float,
    counts: Counts,
    lock: threading.Lock,
) -> None:
    """Push rounds of this lane's slice of the fleet until ``stop_at``."""
    mine = np.arange(lane, fleet.ids.size, lanes)
    chunks = [mine[i : i + batch_size] for i in range(0, mine.size, batch_size)]
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx.Client(timeout=60)
    ws = None
    if mode.startswith("ws"):
        from websockets.sync.client import connect

        ws_url = url.replace("http://", "ws://") + "/live/v1/tracks/ws"
        ws = connect(ws_url, additional_headers=headers, max_size=None, compression=None)
        ws.__enter__()
    step = 0
    try:
        while time.time() < stop_at:
            t = t0 + 0.05 * step
            step += 1
            for chunk in chunks:
                batch = fleet.batch(chunk, t, t0)
                arrow = mode.endswith("arrow")
                body = arrow_body(batch) if arrow else batch_to_json(batch)
                if ws is not None:
                    ws.send(body if arrow else body.decode())
                    reply = orjson.loads(ws.recv())
                else:
                    ctype = "application/vnd.apache.arrow.stream" if arrow else "application/json"
                    r = http.post(
                        f"{url}/live/v1/tracks",
                        content=body,
                        headers={**headers, "Content-Type": ctype},
                    )
                    reply = r.json()
                    if r.status_code not in (200, 422):
                        with lock:
                            counts.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                        return
                with lock:
                    counts.add(reply)
                if time.time() >= stop_at:
                    break
    finally:
        if ws is not None:
            ws.close()
        http.close()


def run_ingest(url: str, key: bytes, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    print(
        f"\ningest: {args.tracks} tracks, batches of {args.batch} states, "
        f"{args.seconds:.0f} s per path, 2 connections, server on core(s) {args.server_cores}"
    )
    print(f"{'path':<12} {'updates/s':>12} {'requests/s':>11} {'flagged':>8} {'stale':>6}")
    for n, mode in enumerate(("http-json", "http-arrow", "ws-json", "ws-arrow")):
        party = f"ingest{n}"
        token = TokenSource(party=party, private_key_pem=key, audience="localhost").token()
        fleet = Fleet.build(args.tracks, [party])
        fleet.ids = np.array([f"{mode}-{i}" for i in fleet.ids], dtype=object)
        counts = Counts()
        lock = threading.Lock()
        began = time.time()
        t0 = began - 30.0  # reports trail the wall clock: never "in the future"
        stop_at = began + args.seconds
        lanes = 2
        threads = [
            threading.Thread(
                target=_sender,
                args=(mode, url, token, fleet, lane, lanes, args.batch, stop_at, t0, counts, lock),
            )
            for lane in range(lanes)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.time() - began
        rate = counts.accepted / elapsed
        out[mode] = rate
        print(
            f"{mode:<12} {rate:>12,.0f} {counts.requests / elapsed:>11.1f} "
            f"{counts.flagged:>8} {counts.stale:>6}"
            + (f"  errors: {counts.errors[:1]}" if counts.errors else "")
        )
        time.sleep(2.0)  # let the detection loop settle between paths
    return out


# -- latency -------------------------------------------------------------------------------------


@dataclass
class Probe:
    ids: tuple[str, str]
    parties: tuple[str, str]
    sent: float
    received: dict[str, float] = field(default_factory=dict)


def run_latency(url: str, key: bytes, args: argparse.Namespace) -> dict[str, float]:
    parties = ["p1", "p2", "p3", "p4"]
    tokens = {p: TokenSource(party=p, private_key_pem=key, audience="localhost") for p in parties}
    fleet = Fleet.build(args.tracks, parties, lat0=30.0)
    by_party = {p: np.flatnonzero(fleet.party == p) for p in parties}
    probes: dict[str, Probe] = {}
    other_alerts: set[str] = set()
    lock = threading.Lock()

    def on_alert(party: str) -> Any:
        def handle(msg: dict[str, Any], t: float) -> None:
            if msg.get("type") != "alert" or msg["alert"].get("status") != "raised":
                return
            ids = [i.get("id") for i in msg["alert"].get("inputs", [])]
            with lock:
                if not any(str(i) in probes for i in ids):
                    other_alerts.add(str(msg["alert"].get("id")))
                for i in ids:
                    probe = probes.get(str(i))
                    if probe is not None and party not in probe.received:
                        probe.received[party] = t

        return handle

    listeners = [AlertListener(url, tokens[p], on_alert(p), f"l-{p}").start() for p in parties]
    for lst in listeners:
        if not lst.connected.wait(30):
            raise SystemExit(f"alert stream did not open: {lst.error}")
    clients = {p: LiveClient(url, tokens[p]) for p in parties}
    probe_client = {p: LiveClient(url, tokens[p]) for p in parties}
    t0 = time.time()
    print(
        f"\nlatency: {args.tracks} live tracks of {len(parties)} parties at 1 Hz (ten batches "
        f"every 100 ms), a new conflicting pair every {args.every:g} s for "
        f"{args.seconds:.0f} s, server on core(s) {args.server_cores}"
    )
    warm = 5.0
    stop_at = t0 + warm + args.seconds
    slot = 0
    next_probe = t0 + warm
    probe_n = 0
    ingest_lag: list[float] = []
    rng = np.random.default_rng(7)
    while time.time() < stop_at:
        tick = t0 + slot * 0.1
        delay = tick - time.time()
        if delay > 0:
            time.sleep(delay)
        # one tenth of every party's tracks per 100 ms slot
        began = time.time()
        for p in parties:
            idx = by_party[p][slot % 10 :: 10]
            clients[p].push(fleet.batch(idx, time.time(), t0))
        ingest_lag.append(time.time() - began)
        slot += 1
        if time.time() >= next_probe:
            next_probe += args.every
            a, b = rng.choice(len(parties), size=2, replace=False)
            pa, pb = parties[int(a)], parties[int(b)]
            lat = 10.0 + 0.5 * probe_n
            ids = (f"probe{probe_n}a", f"probe{probe_n}b")
            half = 1.5 * NM_TO_M / EARTH_M_PER_DEG
            now = time.time()
            probe = Probe(ids=ids, parties=(pa, pb), sent=now)
            with lock:
                probes[ids[0]] = probes[ids[1]] = probe
            alt = 6000 * FT_TO_M
            gs = 250 * KT_TO_MPS
            for pid, party, dlat, trk in ((ids[0], pa, -half, 0.0), (ids[1], pb, half, 180.0)):
                batch = TrackBatch.from_arrays(
                    [pid], [now], [lat + dlat], [0.0], [alt], [gs], [trk], [0.0]
                )
                probe_client[party].push(batch)
            probe_n += 1
    time.sleep(3.0)  # let the last alerts arrive
    counts = clients[parties[0]].picture()["counts"]
    for lst in listeners:
        lst.stop()
    for c in (*clients.values(), *probe_client.values()):
        c.close()
    done = {id(p): p for p in probes.values()}.values()
    lat_all: list[float] = []
    both = 0
    for p in done:
        got = [p.received[q] - p.sent for q in p.parties if q in p.received]
        lat_all.extend(got)
        both += len(got) == 2
    missing = sum(1 for p in done if len(p.received) < 2)
    out: dict[str, float] = {"pairs": float(len(done)), "missing": float(missing)}
    if lat_all:
        q = np.quantile(lat_all, [0.5, 0.9, 0.99])
        out.update(p50=q[0], p90=q[1], p99=q[2], max=max(lat_all))
        print(
            f"position-to-alert latency over {len(lat_all)} deliveries ({len(done)} pairs, "
            f"{both} delivered to both parties, {missing} incomplete): "
            f"p50 {q[0] * 1000:.0f} ms, p90 {q[1] * 1000:.0f} ms, p99 {q[2] * 1000:.0f} ms, "
            f"max {max(lat_all) * 1000:.0f} ms"
        )
    print(
        f"other alerts raised: {len(other_alerts)}; picture of {parties[0]} at the end: "
        f"{counts.get('own')} own tracks, {counts.get('others')} of other parties visible"
    )
    print(
        f"feeder: 1 Hz of {args.tracks} tracks; time to push each 100 ms slot "
        f"(client side, 4 POSTs of {args.tracks // 40} states): median "
        f"{statistics.median(ingest_lag) * 1000:.0f} ms, max {max(ingest_lag) * 1000:.0f} ms"
    )
    return out


# -- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=("all", "ingest", "latency"), default="all")
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=5_000, help="states per ingest batch")
    parser.add_argument("--seconds", type=float, default=None, help="per ingest path / latency")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between probe pairs")
    parser.add_argument("--server-cores", default="0", help="taskset core list of the server")
    args = parser.parse_args(argv)
    key = (CERTS / "auth2.key").read_bytes()
    cpus = os.cpu_count() or 1
    if cpus > 1:  # the client on the other cores
        other = {c for c in range(cpus)} - {int(c) for c in args.server_cores.split(",")}
        if other:
            os.sched_setaffinity(0, other)
    print(f"sharedsky live benchmark on {cpus} cores ({sys.platform}); server pinned to one core")
    with tempfile.TemporaryDirectory(prefix="sharedsky-bench-live-") as tmp:
        results: dict[str, Any] = {}
        if args.part in ("all", "ingest"):
            with PinnedServer(
                f"sqlite:///{tmp}/ingest.sqlite", [CERTS / "auth2.pem"], cores=args.server_cores
            ) as server:
                ns = argparse.Namespace(**{**vars(args), "seconds": args.seconds or 10.0})
                results["ingest"] = run_ingest(server.url, key, ns)
        if args.part in ("all", "latency"):
            with PinnedServer(
                f"sqlite:///{tmp}/latency.sqlite", [CERTS / "auth2.pem"], cores=args.server_cores
            ) as server:
                ns = argparse.Namespace(**{**vars(args), "seconds": args.seconds or 60.0})
                results["latency"] = run_latency(server.url, key, ns)
                log = server.output()
                if "Traceback" in log:
                    print("server log has a traceback:\n" + log[-3000:])


if __name__ == "__main__":
    main()
