"""Pushing tracks over HTTP and WebSocket: formats, partial rejects kept apart from accepted
records, bad bodies, authentication and scopes."""

from __future__ import annotations

import io
from collections.abc import Callable

import orjson
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.live.live_api_helpers import READ, WRITE, state

Hdr = Callable[..., dict[str, str]]


def own_ids(lc: TestClient, hdr: Hdr, party: str) -> list[str]:
    r = lc.get("/live/v1/picture", headers=hdr(party))
    assert r.status_code == 200
    return sorted(t["track_id"] for t in r.json()["tracks"] if t["own"])


def test_json_rows_all_accepted(lc: TestClient, hdr: Hdr, now: float) -> None:
    r = lc.post("/live/v1/tracks", headers=hdr("alpha"), json={"states": [state("A1", now, 45, 5)]})
    assert r.status_code == 200
    assert r.json() == {"accepted": 1, "rejected": [], "flagged": 0, "stale": 0}
    assert own_ids(lc, hdr, "alpha") == ["A1"]


def test_bad_records_are_named_and_the_rest_is_kept(lc: TestClient, hdr: Hdr, now: float) -> None:
    body = {
        "states": [
            state("A1", now, 45, 5),
            state("A2", now, 123.0, 5),
            {"track_id": "A3", "t": now, "lat": 45},
            "junk",
            state("A4", now, 45, 5.1, gs_mps="fast"),
            state("A5", now, 45, 5.2),
        ]
    }
    r = lc.post("/live/v1/tracks", headers=hdr("alpha"), json=body)
    assert r.status_code == 422
    out = r.json()
    assert out["accepted"] == 2
    reasons = {x["index"]: x["reason"] for x in out["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4]
    assert reasons[1].startswith("lat") and reasons[2].startswith("lon")
    assert reasons[3].startswith("record") and reasons[4].startswith("gs_mps")
    assert "4 record(s) rejected, 2 accepted and kept" in out["message"]
    assert own_ids(lc, hdr, "alpha") == ["A1", "A5"]
    feeds = lc.get("/live/v1/feeds", headers=hdr("alpha")).json()["feeds"]
    assert feeds[0]["kind"] == "push" and (feeds[0]["decoded"], feeds[0]["rejected"]) == (2, 4)


def test_columns_and_traffic_naming(lc: TestClient, hdr: Hdr, now: float) -> None:
    cols = {
        "track_id": ["C1", "C2"],
        "t": [now, now],
        "lat": [45, 46],
        "lon": [5, 5],
        "alt_m": [3000, None],
    }
    r = lc.post("/live/v1/tracks", headers=hdr("alpha"), json={"columns": cols})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    traffic = [
        {
            "icao24": "4ca123",
            "timestamp": now * 1000,
            "latitude": 45,
            "longitude": 5,
            "altitude": 10000,
            "groundspeed": 400,
            "track": 90,
            "vertical_rate": 0,
        }
    ]
    r = lc.post("/live/v1/tracks", headers=hdr("alpha"), json=traffic)
    assert r.status_code == 200
    (t,) = [
        t
        for t in lc.get("/live/v1/picture", headers=hdr("alpha")).json()["tracks"]
        if t["track_id"] == "4ca123"
    ]
    assert t["alt_m"] == pytest.approx(3048.0) and t["gs_mps"] == pytest.approx(205.78, abs=0.01)


def _table(now: float) -> pa.Table:
    return pa.table(
        {
            "track_id": ["R1", "R2", "R3"],
            "t": pa.array([now * 1e6] * 3, type=pa.timestamp("us", tz="UTC")),
            "lat": [45.0, 45.1, 99.0],
            "lon": [5.0, 5.0, 5.0],
            "alt_m": pa.array([3000.0, None, 3000.0]),
        }
    )


def test_arrow_stream_and_parquet_bodies(lc: TestClient, hdr: Hdr, now: float) -> None:
    sink = io.BytesIO()
    table = _table(now)
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    r = lc.post(
        "/live/v1/tracks",
        headers={**hdr("alpha"), "Content-Type": "application/vnd.apache.arrow.stream"},
        content=sink.getvalue(),
    )
    assert r.status_code == 422  # R3's latitude
    assert r.json()["accepted"] == 2 and r.json()["rejected"][0]["index"] == 2
    pbuf = io.BytesIO()
    pq.write_table(table.slice(0, 2).rename_columns(["track_id", "t", "lat", "lon", "alt_m"]), pbuf)
    r = lc.post(
        "/live/v1/tracks",
        headers={**hdr("bravo"), "Content-Type": "application/x-parquet"},
        content=pbuf.getvalue(),
    )
    assert r.status_code == 200 and r.json()["accepted"] == 2
    tracks = {
        t["track_id"]: t for t in lc.get("/live/v1/picture", headers=hdr("bravo")).json()["tracks"]
    }
    assert tracks["R1"]["age_s"] == 0 and tracks["R2"]["alt_m"] is None


@pytest.mark.parametrize(
    ("content", "ctype", "needle"),
    [
        (b"{not json", "application/json", "malformed JSON"),
        (b'{"states": 5}', "application/json", "states"),
        (b'{"states": [], "columns": {}}', "application/json", "exactly one"),
        (
            b'{"columns": {"track_id": ["a"], "t": [1, 2], "lat": [1], "lon": [1]}}',
            "application/json",
            "columns",
        ),
        (b'{"states": [], "naming": "metric"}', "application/json", "naming"),
        (b"\x00\x01", "application/vnd.apache.arrow.stream", "Arrow"),
        (b"PAR1", "application/x-parquet", "Parquet"),
        (b"a,b", "text/csv", "content type"),
    ],
)
def test_unreadable_bodies_are_400(
    lc: TestClient, hdr: Hdr, content: bytes, ctype: str, needle: str
) -> None:
    r = lc.post("/live/v1/tracks", headers={**hdr("alpha"), "Content-Type": ctype}, content=content)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]


def test_tokens_and_scopes(lc: TestClient, hdr: Hdr, now: float) -> None:
    body = {"states": [state("A1", now, 45, 5)]}
    assert lc.post("/live/v1/tracks", json=body).status_code == 401
    assert (
        lc.post("/live/v1/tracks", json=body, headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    assert lc.post("/live/v1/tracks", json=body, headers=hdr("alpha", READ)).status_code == 403
    assert lc.get("/live/v1/picture", headers=hdr("alpha", WRITE)).status_code == 403
    assert lc.get("/live/v1/alerts").status_code == 401


def test_websocket_push_survives_bad_messages(lc: TestClient, hdr: Hdr, now: float) -> None:
    with lc.websocket_connect("/live/v1/tracks/ws", headers=hdr("alpha")) as ws:
        ws.send_text("{oops")
        bad = ws.receive_json()
        assert bad["status"] == 400 and bad["seq"] == 1 and "malformed JSON" in bad["message"]
        ws.send_text(orjson.dumps({"states": [state("W1", now, 45, 5), "junk"]}).decode())
        part = ws.receive_json()
        assert part["status"] == 422 and part["accepted"] == 1 and part["seq"] == 2
        sink = io.BytesIO()
        table = _table(now).slice(0, 1)
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        ws.send_bytes(sink.getvalue())
        assert ws.receive_json()["status"] == 200
    assert own_ids(lc, hdr, "alpha") == ["R1", "W1"]


def test_websocket_refuses_bad_tokens(lc: TestClient, hdr: Hdr, live_app: FastAPI) -> None:
    with lc.websocket_connect("/live/v1/tracks/ws") as ws:
        assert ws.receive_json()["status"] == 401
    with lc.websocket_connect("/live/v1/tracks/ws", headers=hdr("alpha", READ)) as ws:
        assert ws.receive_json()["status"] == 403
    token = hdr("alpha")["Authorization"].split()[1]
    with lc.websocket_connect(f"/live/v1/alerts/ws?access_token={token}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
