"""Alert streams over real loopback connections: two parties on WebSockets receive the same
alert (same id and content) when their aircraft converge, through its whole life; SSE carries
the same; a real ``sharedsky serve`` process does it with its own detection loop."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.sync.client import connect

from sharedsky.testing import ServerProcess
from tests.api.live.live_api_helpers import head_on, serve_in_thread

Hdr = Callable[..., dict[str, str]]


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


def recv(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def test_two_parties_receive_the_same_alerts_over_websockets(
    live_app: FastAPI, hdr: Hdr, now: float
) -> None:
    clock = live_app.state.live_clock
    with serve_in_thread(live_app) as base:
        live = live_app.state.live
        with (
            connect(ws_url(base, "/live/v1/alerts/ws"), additional_headers=hdr("alpha")) as wa,
            connect(ws_url(base, "/live/v1/alerts/ws"), additional_headers=hdr("bravo")) as wb,
            connect(ws_url(base, "/live/v1/alerts/ws"), additional_headers=hdr("charlie")) as wc,
            connect(ws_url(base, "/live/v1/tracks/ws"), additional_headers=hdr("alpha")) as pa,
            httpx.Client(base_url=base) as http,
        ):
            for ws in (wa, wb, wc):
                assert recv(ws) == {"type": "snapshot", "alerts": []}

            def fly(t: float, gap: float, **turn: float) -> None:
                clock.now = t
                a, b = head_on(t, gap)
                pa.send(json.dumps({"states": [{**a, **turn}]}))
                assert recv(pa)["status"] == 200
                r = http.post("/live/v1/tracks", headers=hdr("bravo"), json={"states": [b]})
                assert r.status_code == 200

            fly(now, 110_000)  # conflict in ~252 s: CAUTION
            live.run_detection_cycle(now)
            raised_a, raised_b = recv(wa), recv(wb)
            assert raised_a == raised_b
            assert raised_a["alert"]["status"] == "raised"
            assert raised_a["alert"]["level"] == "CAUTION"
            assert raised_a["alert"]["parties"] == ["alpha", "bravo"]
            fly(now + 140, 110_000 - 400 * 140)  # within 120 s: WARNING
            live.run_detection_cycle(now + 140)
            upd_a, upd_b = recv(wa), recv(wb)
            assert upd_a == upd_b and upd_a["alert"]["id"] == raised_a["alert"]["id"]
            assert (upd_a["alert"]["status"], upd_a["alert"]["level"]) == ("updated", "WARNING")
            fly(now + 150, 110_000 - 400 * 150, alt_m=6000.0)  # alpha climbs away
            live.run_detection_cycle(now + 150)
            clr_a, clr_b = recv(wa), recv(wb)
            assert clr_a == clr_b and clr_a["alert"]["status"] == "cleared"
            assert clr_a["alert"]["id"] == raised_a["alert"]["id"]
            # charlie was never involved: nothing arrived
            with pytest.raises(TimeoutError):
                wc.recv(timeout=0.3)
        # every delivery is in the record, for both parties
        live.flush_events()
        with live.store.read() as tx:
            events = tx.events(entity_type="live_alert", entity_id=raised_a["alert"]["id"])
        ops = [(e.operation, e.payload.get("party")) for e in events]
        assert ops.count(("raised", None)) == 1 and ops.count(("cleared", None)) == 1
        delivered = sorted(p for op, p in ops if op == "delivered")
        assert delivered == ["alpha"] * 3 + ["bravo"] * 3


def test_server_sent_events_carry_the_same_alerts(live_app: FastAPI, hdr: Hdr, now: float) -> None:
    with serve_in_thread(live_app) as base:
        live = live_app.state.live
        got: list[tuple[str, dict[str, Any]]] = []
        ready = threading.Event()

        def listen() -> None:
            with (
                httpx.Client(base_url=base, timeout=20) as c,
                c.stream("GET", "/live/v1/alerts/stream", headers=hdr("bravo")) as r,
            ):
                assert r.headers["content-type"].startswith("text/event-stream")
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        got.append((event, json.loads(line[6:])))
                        ready.set()
                        if event == "alert":
                            return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert ready.wait(10)
        a, b = head_on(now, 20_000)
        with httpx.Client(base_url=base) as http:
            assert http.post("/live/v1/tracks", headers=hdr("alpha"), json=[a]).status_code == 200
            assert http.post("/live/v1/tracks", headers=hdr("bravo"), json=[b]).status_code == 200
            live.run_detection_cycle(now)
            thread.join(timeout=10)
            assert [e for e, _ in got] == ["snapshot", "alert"]
            alert = got[1][1]["alert"]
            history = http.get("/live/v1/alerts", headers=hdr("alpha")).json()["alerts"]
            assert history == [alert]


@pytest.mark.slow
def test_a_real_server_detects_and_streams_on_its_own(
    tmp_path: Path, public_key_path: Path, token: Callable[..., str]
) -> None:
    cfg = tmp_path / "live.json"
    cfg.write_text(json.dumps({"silence_after_s": 600, "rate_hz": 2, "max_rate_hz": 10}))
    db = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    scopes = ("sharedsky.tracks.write", "sharedsky.picture.read")

    def h(party: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(scopes, sub=party)}"}

    env = {**os.environ, "SHAREDSKY_LIVE_CONFIG": str(cfg)}
    with ServerProcess(db, [public_key_path], env=env) as server:
        base = server.url
        with (
            connect(ws_url(base, "/live/v1/alerts/ws"), additional_headers=h("alpha")) as wa,
            connect(ws_url(base, "/live/v1/alerts/ws"), additional_headers=h("bravo")) as wb,
        ):
            assert recv(wa)["type"] == "snapshot" and recv(wb)["type"] == "snapshot"
            t = time.time()
            a, b = head_on(t, 20_000)
            sent = time.monotonic()
            for party, s in (("alpha", a), ("bravo", b)):
                r = httpx.post(f"{base}/live/v1/tracks", headers=h(party), json=[s])
                assert r.status_code == 200, r.text
            got_a, got_b = recv(wa, 30), recv(wb, 30)
            delay = time.monotonic() - sent
        assert got_a == got_b and got_a["alert"]["status"] == "raised"
        assert got_a["alert"]["level"] == "WARNING" and got_a["alert"]["kind"] == "conflict"
        # generous: the server may still be loading its kernels on a busy machine; latency
        # figures come from the benchmark, not from here
        assert delay < 20.0, delay
    assert "Traceback" not in server.output()
