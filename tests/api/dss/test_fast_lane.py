"""The fast lane of the planning loop (:mod:`sharedsky.api.dss.fast_lane`): which requests it
answers itself, which it hands to FastAPI, and that both give the same answers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from sharedsky.api import create_app
from sharedsky.api.dss.fast_lane import DssFastLane
from sharedsky.config import Settings

SC = "utm.strategic_coordination"
OIR = "/dss/v1/operational_intent_references"
HANDED_ON = 599  # status of the stand-in for FastAPI below

Auth = Callable[..., dict[str, str]]
VolumeFactory = Callable[..., dict[str, Any]]


def _body(volume: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "extents": [volume],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
    }
    return body | changes


@pytest.fixture
def lane_only(db_url: str, public_key_path: Path) -> Iterator[TestClient]:
    """The lane in front of an app that answers every request it is handed with 599, over the
    state (service, token verifier, settings) of a real app: a 599 means "handed on"."""
    real = create_app(Settings(db_url=db_url, public_key_pems=(public_key_path,)))

    async def handed_on(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": HANDED_ON, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    lane = DssFastLane(handed_on)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await real(scope, receive, send)  # opens the store, builds the service
            return
        await lane(scope | {"app": real}, receive, send)

    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        yield client


def test_the_lane_answers_well_formed_planning_requests(
    lane_only: TestClient, auth: Auth, volume: VolumeFactory
) -> None:
    vol = volume()
    r = lane_only.post(f"{OIR}/query", json={"area_of_interest": vol}, headers=auth(SC))
    assert r.status_code == 200 and r.json() == {"operational_intent_references": []}
    entity = str(uuid.uuid4())
    r = lane_only.put(f"{OIR}/{entity}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 201, r.text
    ovn = r.json()["operational_intent_reference"]["ovn"]
    r = lane_only.put(f"{OIR}/{entity}/{ovn}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 200, r.text
    current = r.json()["operational_intent_reference"]["ovn"]
    # Errors of the service and of authorisation are answered by the lane too.
    r = lane_only.put(f"{OIR}/{entity}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    r = lane_only.put(f"{OIR}/{entity}/{'x' * 20}", json=_body(vol), headers=auth(SC, sub="uss2"))
    assert r.status_code == 403
    r = lane_only.post(f"{OIR}/query", json={"area_of_interest": vol})
    assert r.status_code == 401
    other = str(uuid.uuid4())
    r = lane_only.put(f"{OIR}/{other}", json=_body(vol), headers=auth(SC, sub="uss2"))
    assert r.status_code == 409 and r.json()["missing_operational_intents"][0]["id"] == entity
    r = lane_only.delete(f"{OIR}/{entity}/{current}", headers=auth(SC, sub="uss2"))
    assert r.status_code == 403
    r = lane_only.delete(f"{OIR}/{entity}/{ovn}", headers=auth(SC))  # no longer current
    assert r.status_code == 409
    r = lane_only.delete(f"{OIR}/{entity}/{current}", headers=auth(SC))
    assert r.status_code == 200, r.text
    assert r.json()["operational_intent_reference"]["id"] == entity
    r = lane_only.delete(f"{OIR}/{entity}/{current}", headers=auth(SC))
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "content", "content_type"),
    [
        ("POST", "/query", b"{", "application/json"),  # malformed JSON
        ("POST", "/query", b"", "application/json"),  # no body
        ("POST", "/query", b'{"area_of_interest": 1}', "application/json"),  # invalid
        ("POST", "/query", b"{}", "text/plain"),  # not JSON
        ("PUT", "/not-a-uuid", b"{}", "application/json"),
        ("PUT", f"/{uuid.uuid4()}/", b"{}", "application/json"),  # empty OVN
        ("PUT", f"/{uuid.uuid4()}/short", b"{}", "application/json"),  # OVN too short
        ("PUT", f"/{uuid.uuid4()}/{'o' * 20}/more", b"{}", "application/json"),
        ("GET", f"/{uuid.uuid4()}", b"", "application/json"),  # not a planning request
        ("DELETE", f"/{uuid.uuid4()}", b"", "application/json"),  # no OVN
        ("DELETE", f"/{uuid.uuid4()}/", b"", "application/json"),  # empty OVN
        ("DELETE", f"/{uuid.uuid4()}/short", b"", "application/json"),  # OVN too short
        ("DELETE", f"/{uuid.uuid4()}/{'o' * 20}/more", b"", "application/json"),
        ("DELETE", f"/not-a-uuid/{'o' * 20}", b"", "application/json"),
        ("DELETE", "/query", b"", "application/json"),
    ],
)
def test_anything_else_is_handed_on(
    lane_only: TestClient, auth: Auth, method: str, path: str, content: bytes, content_type: str
) -> None:
    headers = auth(SC) | {"Content-Type": content_type}
    r = lane_only.request(method, OIR + path, content=content, headers=headers)
    assert r.status_code == HANDED_ON


def _exchange(client: TestClient, auth: Auth, vol: dict[str, Any]) -> list[tuple[int, Any]]:
    """A scripted sequence of planning requests, good and bad; the answers, with the values
    that differ from run to run (ids, OVNs, times) replaced by placeholders."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    raw: list[tuple[int, Any]] = []
    seen: dict[str, str] = {}

    def record(r: Any) -> dict[str, Any]:
        raw.append((r.status_code, r.json()))
        return dict(raw[-1][1])

    seen[first], seen[second] = "<first>", "<second>"
    record(client.post(f"{OIR}/query", json={"area_of_interest": vol}, headers=auth(SC)))
    answer = record(client.put(f"{OIR}/{first}", json=_body(vol), headers=auth(SC)))
    ovn = answer["operational_intent_reference"]["ovn"]
    seen[ovn] = "<ovn1>"
    for key, value in answer["operational_intent_reference"].items():
        if key.startswith("time_"):
            seen[value["value"]] = f"<{key}>"
    record(client.post(f"{OIR}/query", json={"area_of_interest": vol}, headers=auth(SC)))
    record(client.put(f"{OIR}/{second}", json=_body(vol), headers=auth(SC, sub="uss2")))
    record(client.put(f"{OIR}/{first}", json=_body(vol), headers=auth(SC)))
    record(client.put(f"{OIR}/{first}/{'z' * 20}", json=_body(vol), headers=auth(SC)))
    record(client.put(f"{OIR}/{first}/{ovn}", json=_body(vol, state="Bogus"), headers=auth(SC)))
    record(client.put(f"{OIR}/{first}/{ovn}", json=_body(vol, key=[1]), headers=auth(SC)))
    bad_url = _body(vol, uss_base_url="ftp://x")
    record(client.put(f"{OIR}/{first}/{ovn}", json=bad_url, headers=auth(SC)))
    record(client.put(f"{OIR}/{first}/{ovn}", json=_body(vol), headers=auth("x.y")))
    record(client.post(f"{OIR}/query", content=b"[1,", headers=auth(SC)))
    record(client.delete(f"{OIR}/{first}/{ovn}", headers=auth(SC, sub="uss2")))
    record(client.delete(f"{OIR}/{first}/{'z' * 20}", headers=auth(SC)))
    record(client.delete(f"{OIR}/{first}/{ovn}", headers=auth("x.y")))
    record(client.delete(f"{OIR}/{first}/{ovn}"))
    record(client.delete(f"{OIR}/{first}/{ovn}", headers=auth(SC)))
    record(client.delete(f"{OIR}/{first}/{ovn}", headers=auth(SC)))
    text = orjson.dumps(raw).decode()
    for value, name in seen.items():
        text = text.replace(value, name)
    return [(status, body) for status, body in orjson.loads(text)]


DELETES = [403, 409, 403, 401, 200, 404]  # the statuses of the deletes of _exchange


def test_lane_and_routes_give_the_same_answers(
    db_url: str, public_key_path: Path, auth: Auth, volume: VolumeFactory
) -> None:
    answers = []
    for run, fast_lane in enumerate((True, False)):
        vol = volume(lng=7.5 + run)  # apart: the second run does not see the first one's intents
        settings = Settings(db_url=db_url, public_key_pems=(public_key_path,), fast_lane=fast_lane)
        app: FastAPI = create_app(settings)
        with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
            answers.append(_exchange(c, auth, vol))
    assert answers[0] == answers[1]
    statuses = [status for status, _ in answers[0]]
    assert statuses == [200, 201, 200, 409, 409, 409, 400, 400, 400, 403, 400, *DELETES]


@pytest.mark.parametrize("threads", [1, 3])
def test_the_lane_runs_at_most_lane_threads_requests_at_once(
    threads: int,
    sqlite_url: str,
    public_key_path: Path,
    auth: Auth,
    volume: VolumeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sharedsky.api.dss.fast_lane as lane_module

    running = 0
    most = 0
    names: set[str] = set()
    guard = threading.Lock()
    real_query = lane_module.query_operational_intents

    def slow_query(*args: Any) -> Any:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
            names.add(threading.current_thread().name)
        time.sleep(0.05)
        with guard:
            running -= 1
        return real_query(*args)

    monkeypatch.setattr(lane_module, "query_operational_intents", slow_query)
    settings = Settings(db_url=sqlite_url, public_key_pems=(public_key_path,), lane_threads=threads)
    body = {"area_of_interest": volume()}
    with TestClient(create_app(settings)) as client, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: client.post(f"{OIR}/query", json=body, headers=auth(SC)), range(8))
        )
    assert [r.status_code for r in answers] == [200] * 8
    assert most == threads
    assert len(names) == threads and all(n.startswith("dss-lane") for n in names)


def test_lane_threads_hand_back_results_and_errors_and_end_with_their_owner() -> None:
    import asyncio
    import gc

    from sharedsky.api.dss.fast_lane import LaneThreads

    def fail(message: str) -> None:
        raise ValueError(message)

    async def scenario(lane: LaneThreads) -> None:
        assert await lane.run(sum, (1, 2, 3)) == 6
        with pytest.raises(ValueError, match="refused"):
            await lane.run(fail, "refused")
        # A request that goes away (cancelled) leaves the threads serving the next ones.
        slow = asyncio.ensure_future(lane.run(time.sleep, 0.05))
        await asyncio.sleep(0)
        slow.cancel()
        results = await asyncio.gather(*(lane.run(pow, 2, k) for k in range(20)))
        assert results == [2**k for k in range(20)]

    before = set(threading.enumerate())
    lane = LaneThreads(2)
    asyncio.run(scenario(lane))
    mine = [t for t in threading.enumerate() if t not in before and t.name.startswith("dss-lane")]
    assert len(mine) == 2
    del lane
    gc.collect()
    for thread in mine:
        thread.join(timeout=5)
        assert not thread.is_alive()
