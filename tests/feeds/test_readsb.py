"""readsb JSON decoder: the real ``trace_full`` recording through a loopback TCP socket into the
live service, ``aircraft.json`` snapshots polled over loopback HTTP, and the trace replay.

Data: ``traffic_readsb_trace_full_ac671b.json`` (../shared/data/adsb; one DAL1812 flight, 2 500
points, from the ``traffic`` package, MIT). The snapshots are DERIVED from its points (each point
written as the ``aircraft.json`` record readsb would serve for it). The independent expectation
is the trace read with the ``json`` module alone.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedsky.errors import InvalidInput
from sharedsky.feeds.net import HttpPollFeed
from sharedsky.feeds.readsb import ReadsbDecoder, TraceReplay, trace_table
from sharedsky.model.tracks import TrackBatch
from tests.feeds.adsb_helpers import check_counts, into_service, pieces, through_tcp
from tests.services.live_helpers import Clock

FT, KT, FPM = 0.3048, 1852.0 / 3600.0, 0.3048 / 60.0
TRACE = "traffic_readsb_trace_full_ac671b.json"


@pytest.fixture(scope="module")
def trace_path(shared_dir: Path) -> Path:
    return shared_dir / "data" / "adsb" / TRACE


def _points(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    doc = json.loads(path.read_text())
    fresh = [p for p in doc["trace"] if not p[6] & 1]  # flag 1: stale position
    return doc, fresh


def _check_points(batch: TrackBatch, doc: dict[str, Any], pts: list[list[Any]]) -> None:
    assert len(batch) == len(pts)
    assert set(batch.track_id) == {doc["icao"]}
    assert np.allclose(batch.t, [doc["timestamp"] + p[0] for p in pts], atol=1e-6)
    assert np.allclose(batch.lat, [p[1] for p in pts])
    assert np.allclose(batch.lon, [p[2] for p in pts])
    alt = [(p[10] if p[3] == "ground" else p[3]) if p[3] is not None else np.nan for p in pts]
    alt_ft = np.array([np.nan if a is None else a for a in alt], dtype=float)
    assert np.allclose(batch.alt_m, alt_ft * FT, equal_nan=True)
    gs = np.array([np.nan if p[4] is None else p[4] for p in pts], dtype=float)
    assert np.allclose(batch.gs_mps, gs * KT, equal_nan=True)
    vr = np.array([np.nan if p[7] is None else p[7] for p in pts], dtype=float)
    assert np.allclose(batch.vs_mps, vr * FPM, equal_nan=True)


def test_trace_full_through_tcp(trace_path: Path) -> None:
    doc, pts = _points(trace_path)
    dec = ReadsbDecoder()
    batch, feed = through_tcp(dec, [pieces(trace_path.read_bytes(), seed=1, max_piece=5000)])
    c = dec.counters.snapshot()
    assert (c.messages, c.decoded, c.ignored, c.rejected) == (2500, len(pts), 2500 - len(pts), 0)
    assert feed.health().decoded == len(pts)
    _check_points(batch, doc, pts)


def test_trace_full_into_running_service(trace_path: Path) -> None:
    doc, pts = _points(trace_path)
    t_end = doc["timestamp"] + pts[-1][0]
    live, _ = into_service(ReadsbDecoder(), [[trace_path.read_bytes()]], Clock(t_end + 2.0))
    try:
        (v,) = live.picture("alpha")
        assert (v.track_id, v.t) == ("ac671b", pytest.approx(t_end))
        assert (v.lat, v.lon) == (pts[-1][1], pts[-1][2])
        assert v.gs_mps == pytest.approx(pts[-1][4] * KT)
    finally:
        live.stop()


def _snapshot(doc: dict[str, Any], p: list[Any], age: float) -> dict[str, Any]:
    """The aircraft.json readsb would serve ``age`` s after trace point ``p`` (derived)."""
    rec = {
        "hex": doc["icao"],
        "type": p[9],
        "alt_baro": p[3],
        "gs": p[4],
        "track": p[5],
        "baro_rate": p[7],
        "lat": p[1],
        "lon": p[2],
        "seen_pos": age,
        "seen": age,
        "messages": 100,
    }
    if p[3] == "ground":
        rec["alt_geom"] = p[10]
    quiet = {"hex": "3c6444", "type": "mode_s", "alt_baro": 12000, "seen": 0.2}
    return {"now": doc["timestamp"] + p[0] + age, "messages": 1, "aircraft": [rec, quiet]}


def test_aircraft_json_polled_over_loopback_http(trace_path: Path) -> None:
    doc, pts = _points(trace_path)
    pts = pts[:120]
    # readsb writes one aircraft per line; each snapshot is served twice (polling faster than
    # the aircraft reports), so the repeat must not give a second state
    bodies = [json.dumps(_snapshot(doc, p, 0.8), indent=1).encode() for p in pts for _ in range(2)]
    served = iter(bodies)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = next(served, bodies[-1])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/data/aircraft.json"
        dec = ReadsbDecoder()
        feed = HttpPollFeed(url, dec, interval_s=0.001, max_polls=len(bodies))
        batch = TrackBatch.concat(list(feed.batches()))
    finally:
        server.shutdown()
        server.server_close()
    c = dec.counters.snapshot()
    # per poll: the aircraft (new or repeated) and one without a position
    assert (c.messages, c.decoded, c.rejected) == (2 * len(bodies), len(pts), 0)
    _check_points(batch, doc, pts)  # t = now - seen_pos = the point's own time


def test_stream_of_records_one_per_line() -> None:
    recs = [
        {"now": 100.0, "hex": "4ca2d6", "lat": 48.0, "lon": 2.0, "seen_pos": 0.5, "gs": 300},
        {"now": 101.0, "hex": "4ca2d6", "lat": 48.1, "lon": 2.0, "seen_pos": 0.5, "gs": 300},
        {"now": 101.0, "hex": "~abcdef", "lat": 48.1, "lon": 2.0, "seen_pos": 90.0},
        {"now": 101.0, "hex": "4CA2D7", "lat": 91.0, "lon": 2.0},
        {"now": 101.0, "hex": "4CA2D8", "lat": 45.0, "lon": 2.0, "alt_baro": "high"},
    ]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in recs) + b"[1, 2]\nnot json\n"
    dec = ReadsbDecoder()
    out = TrackBatch.concat([dec.feed(data, 0.0), dec.flush(0.0)])
    assert list(out.t) == [99.5, 100.5] and list(out.track_id) == ["4ca2d6", "4ca2d6"]
    reasons = [r.reason for r in out.rejects]
    assert reasons[0].startswith("lat") and reasons[1].startswith("alt_baro")
    assert all(r.startswith("document") for r in reasons[2:]) and len(reasons) == 3
    c = dec.counters.snapshot()
    assert (c.messages, c.decoded, c.ignored, c.rejected) == (6, 2, 1, 3)
    with pytest.raises(InvalidInput, match="readsb"):
        ReadsbDecoder(on_invalid="raise").feed(b'{"hex": 5, "lat": 1, "lon": 2}\n', 0.0)


def test_trace_replay_and_table(trace_path: Path) -> None:
    doc, pts = _points(trace_path)
    df = trace_table(trace_path)
    assert len(df) == len(pts) and df["callsign"].dropna().iloc[0] == "DAL1812"
    rep = TraceReplay(trace_path, speed=1e6, retime=False)
    assert rep.name == f"readsb-trace:{TRACE}"
    got = TrackBatch.concat(list(rep.batches()))
    order = np.argsort(got.t, kind="stable")
    _check_points(got.select(order), doc, pts)
    with pytest.raises(InvalidInput, match="trace"):
        trace_table({"icao": "abc123"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=800), cuts=st.lists(st.integers(0, 800), max_size=4))
def test_random_bytes_never_raise_and_counts_add_up(data: bytes, cuts: list[int]) -> None:
    dec = ReadsbDecoder()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    out = [dec.feed(data[a:b], 0.0) for a, b in itertools.pairwise(bounds)]
    out.append(dec.flush(0.0))
    check_counts(dec, out)


_DOCS: list[bytes] = []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(0, 10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=10),
    pretty=st.booleans(),
)
def test_mutated_real_documents_never_raise_and_counts_add_up(
    trace_path: Path, start: int, flips: list[tuple[int, int]], pretty: bool
) -> None:
    if not _DOCS:
        doc, pts = _points(trace_path)
        _DOCS.extend(json.dumps(_snapshot(doc, p, 0.5)).encode() for p in pts[:200])
        _DOCS.append(json.dumps({**doc, "trace": doc["trace"][:40]}).encode())
    k = start % (len(_DOCS) - 5)
    docs = [*_DOCS[k : k + 5], _DOCS[-1]]
    if pretty:
        docs = [json.dumps(json.loads(d), indent=1).encode() for d in docs]
    data = bytearray(b"\n".join(docs) + b"\n")
    for pos, val in flips:
        data[pos % len(data)] = val
    dec = ReadsbDecoder()
    out = [dec.feed(bytes(data), 0.0), dec.flush(0.0)]
    check_counts(dec, out)


def test_a_broken_multiline_document_does_not_swallow_the_next(trace_path: Path) -> None:
    doc, pts = _points(trace_path)
    good = json.dumps(_snapshot(doc, pts[0], 0.5), indent=1).encode()
    broken = good.replace(b'"lat"', b'"lat" "', 1)
    dec = ReadsbDecoder()
    out = TrackBatch.concat([dec.feed(broken + b"\n" + good + b"\n", 0.0), dec.flush(0.0)])
    assert len(out) == 1 and len(out.rejects) == 1
    assert out.rejects[0].reason.startswith("document")
