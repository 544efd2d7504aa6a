"""State builders for the live HTTP tests (SI names, JSON-ready)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sharedsky.testing import free_port

M_PER_DEG = 6_371_000.0 * math.pi / 180.0
WRITE = "sharedsky.tracks.write"
READ = "sharedsky.picture.read"


def east_of(lon: float, lat: float, metres: float) -> float:
    return lon + metres / (M_PER_DEG * math.cos(math.radians(lat)))


def state(tid: str, t: float, lat: float, lon: float, **kw: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "track_id": tid,
        "t": t,
        "lat": lat,
        "lon": lon,
        "alt_m": 3000.0,
        "gs_mps": 200.0,
        "trk_deg": 90.0,
        "vs_mps": 0.0,
    }
    out.update(kw)
    return out


def head_on(t: float, gap_m: float, lat: float = 45.0, lon: float = 5.0) -> tuple[dict, dict]:
    """alpha/A1 eastbound and bravo/B1 westbound, ``gap_m`` apart, 200 m/s each, same level."""
    return (
        state("A1", t, lat, east_of(lon, lat, -gap_m / 2), trk_deg=90.0),
        state("B1", t, lat, east_of(lon, lat, gap_m / 2), trk_deg=270.0),
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
