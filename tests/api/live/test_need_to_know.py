"""The need-to-know matrix over HTTP: own tracks, others near and far, alerts involving the
caller (and only those), another party's feeds, configuration and plans."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sharedsky.testing import box_volume
from tests.api.live.live_api_helpers import READ, WRITE, east_of, state

Hdr = Callable[..., dict[str, str]]
SC = "utm.strategic_coordination"


def push(lc: TestClient, hdr: Hdr, party: str, *states: dict[str, Any]) -> None:
    r = lc.post("/live/v1/tracks", headers=hdr(party), json={"states": list(states)})
    assert r.status_code == 200, r.text


def seen(lc: TestClient, hdr: Hdr, party: str) -> set[tuple[str, str]]:
    r = lc.get("/live/v1/picture", headers=hdr(party))
    assert r.status_code == 200
    return {(t["party"], t["track_id"]) for t in r.json()["tracks"]}


def test_picture_and_alert_matrix(lc: TestClient, hdr: Hdr, live_app: FastAPI, now: float) -> None:
    push(lc, hdr, "alpha", state("A1", now, 45.0, 5.0))
    push(
        lc,
        hdr,
        "bravo",
        # 30 km east, westbound: visible to alpha and in conflict with A1 (WARNING)
        state("B_NEAR", now, 45.0, east_of(5.0, 45.0, 30_000), trk_deg=270.0),
        # 100 km east, westbound, 1000 m higher then descending: in conflict later (CAUTION)
        # but beyond alpha's 50 km visibility
        state(
            "B_FAR",
            now,
            45.0,
            east_of(5.0, 45.0, 100_000),
            trk_deg=270.0,
            alt_m=4500.0,
            vs_mps=-7.0,
        ),
        state("B_AWAY", now, 10.0, 10.0),
    )
    # charlie: one track 20 km from the alpha-bravo border, one far from everything
    push(
        lc,
        hdr,
        "charlie",
        state("C_LINE", now, 30.5, east_of(60.0, 30.5, 20_000)),
        state("C_ALONE", now, -30.0, -60.0),
    )
    live_app.state.live.run_detection_cycle(now)

    assert seen(lc, hdr, "alpha") == {
        ("alpha", "A1"),
        ("bravo", "B_NEAR"),
        ("charlie", "C_LINE"),  # near a border that concerns alpha
    }
    assert seen(lc, hdr, "bravo") == {
        ("bravo", "B_NEAR"),
        ("bravo", "B_FAR"),
        ("bravo", "B_AWAY"),
        ("alpha", "A1"),
        ("charlie", "C_LINE"),
    }
    assert seen(lc, hdr, "charlie") == {("charlie", "C_LINE"), ("charlie", "C_ALONE")}
    assert seen(lc, hdr, "delta") == set()  # a party that sent nothing sees nothing

    def alerts(party: str) -> list[dict[str, Any]]:
        r = lc.get("/live/v1/alerts", headers=hdr(party))
        assert r.status_code == 200
        return r.json()["alerts"]

    a_alerts, b_alerts = alerts("alpha"), alerts("bravo")
    assert a_alerts == b_alerts  # the same alerts, ids and content
    by_other = {a["inputs"][1]["id"]: a for a in a_alerts}
    assert by_other["B_NEAR"]["level"] == "WARNING"
    # alerts involving alpha always reach it, even with a track it may not see
    assert by_other["B_FAR"]["level"] == "CAUTION"
    assert alerts("charlie") == [] and alerts("delta") == []
    some = a_alerts[0]["id"]
    assert lc.get(f"/live/v1/alerts/{some}", headers=hdr("bravo")).status_code == 200
    assert lc.get(f"/live/v1/alerts/{some}", headers=hdr("charlie")).status_code == 404
    assert lc.get(f"/live/v1/alerts/{uuid.uuid4()}", headers=hdr("alpha")).status_code == 404
    active = lc.get("/live/v1/alerts?active_only=true", headers=hdr("alpha")).json()["alerts"]
    assert {a["id"] for a in active} == {a["id"] for a in a_alerts}
    later = lc.get(f"/live/v1/alerts?since={now + 1}", headers=hdr("alpha")).json()["alerts"]
    assert later == []
    iso = datetime.fromtimestamp(now, UTC).isoformat()
    same = lc.get("/live/v1/alerts", params={"since": iso}, headers=hdr("alpha")).json()
    assert same["alerts"] == a_alerts
    assert lc.get("/live/v1/alerts?since=soon", headers=hdr("alpha")).status_code == 400


def test_feeds_and_configuration_of_another_party(lc: TestClient, hdr: Hdr, now: float) -> None:
    push(lc, hdr, "bravo", state("B1", now, 45, 5))
    own = lc.get("/live/v1/parties/bravo/feeds", headers=hdr("bravo"))
    assert own.status_code == 200 and own.json()["feeds"][0]["decoded"] == 1
    for path in ("/live/v1/parties/bravo/feeds", "/live/v1/parties/bravo/config"):
        r = lc.get(path, headers=hdr("alpha"))
        assert r.status_code == 404, path
        assert "bravo" in r.json()["message"] and "decoded" not in r.text
        assert lc.get(path).status_code == 401
        assert lc.get(path, headers=hdr("bravo", WRITE)).status_code == 403
    assert lc.get("/live/v1/parties/alpha/config", headers=hdr("alpha")).json() == {
        "party": "alpha",
        "links": {},
    }
    shared = lc.get("/live/v1/config", headers=hdr("charlie"))
    assert shared.status_code == 200
    assert "parties" not in shared.json() and shared.json()["lines"][0]["id"] == "ab-border"


def test_links_only_to_own_plans(lc: TestClient, hdr: Hdr, token: Callable[..., str]) -> None:
    start = datetime.now(UTC) + timedelta(minutes=1)
    oid = str(uuid.uuid4())
    body = {
        "extents": [box_volume(45.0, 5.0, 0.01, start, start + timedelta(hours=1), 0, 3000)],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://bravo.example.com",
        "new_subscription": {"uss_base_url": "https://bravo.example.com"},
    }
    r = lc.put(
        f"/dss/v1/operational_intent_references/{oid}",
        json=body,
        headers={"Authorization": f"Bearer {token((SC,), sub='bravo')}"},
    )
    assert r.status_code == 201, r.text
    assert lc.put("/live/v1/links/B1", json={"plan_id": oid}, headers=hdr("bravo")).json() == {
        "track_id": "B1",
        "plan_id": oid,
    }
    assert lc.get("/live/v1/parties/bravo/config", headers=hdr("bravo")).json()["links"] == {
        "B1": oid
    }
    r = lc.put("/live/v1/links/A1", json={"plan_id": oid}, headers=hdr("alpha"))
    assert r.status_code == 404
    assert lc.put("/live/v1/links/A1", json={"plan": oid}, headers=hdr("alpha")).status_code == 400
    r = lc.put("/live/v1/links/A1", json={"plan_id": "a\x00b"}, headers=hdr("alpha"))
    assert r.status_code == 400 and "plan_id" in r.json()["message"]  # PostgreSQL: no NUL
    assert (
        lc.put("/live/v1/links/B1", json={"plan_id": oid}, headers=hdr("bravo", READ)).status_code
        == 403
    )
    assert lc.delete("/live/v1/links/B1", headers=hdr("alpha")).status_code == 404
    assert lc.delete("/live/v1/links/B1", headers=hdr("bravo")).status_code == 200
