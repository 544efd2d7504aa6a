"""Bad input over HTTP: always a 4xx with an ErrorResponse naming the field, never a 5xx, and
nothing already accepted is changed."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sharedsky.api import create_app
from sharedsky.config import Settings

SC = "utm.strategic_coordination"
OIR = "/dss/v1/operational_intent_references"

Auth = Callable[..., dict[str, str]]
Spec = Callable[[Any, str], None]
VolumeFactory = Callable[..., dict[str, Any]]


@pytest.fixture(params=["fast_lane", "routes"])
def settings(request: pytest.FixtureRequest, db_url: str, public_key_path: Path) -> Settings:
    """Every test twice: the planning loop's requests answered by the fast lane, and by the
    FastAPI routes alone (same answers expected)."""
    return Settings(
        db_url=db_url, public_key_pems=(public_key_path,), fast_lane=request.param == "fast_lane"
    )


def _uuid() -> str:
    return str(uuid.uuid4())


def _rfc(t: datetime) -> dict[str, str]:
    return {"value": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "format": "RFC3339"}


@pytest.fixture
def existing(client: TestClient, auth: Auth, volume: VolumeFactory) -> dict[str, Any]:
    body = {
        "extents": [volume()],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
    }
    r = client.put(f"{OIR}/{_uuid()}", json=body, headers=auth(SC))
    assert r.status_code == 201
    return {"body": body, "ref": r.json()["operational_intent_reference"]}


def _mutations(now: datetime) -> Iterator[tuple[str, Callable[[dict[str, Any]], None], str]]:
    """(name, how to spoil a valid body, a word the error message must contain)."""

    def vol(b: dict[str, Any]) -> dict[str, Any]:
        volume: dict[str, Any] = b["extents"][0]["volume"]
        return volume

    def verts(b: dict[str, Any]) -> list[dict[str, Any]]:
        vertices: list[dict[str, Any]] = vol(b)["outline_polygon"]["vertices"]
        return vertices

    yield "two vertices", lambda b: verts(b).__delitem__(slice(2, None)), "vertices"
    yield "repeated vertex", lambda b: verts(b).append(dict(verts(b)[0])), "vertices"

    def crossing(b: dict[str, Any]) -> None:
        v = verts(b)
        v[1], v[2] = v[2], v[1]  # a bow tie

    yield "crossing edges", crossing, "vertices"
    yield "latitude 95", lambda b: verts(b)[0].update(lat=95.0), "lat"
    yield "longitude -200", lambda b: verts(b)[0].update(lng=-200.0), "lng"
    yield "latitude as text", lambda b: verts(b)[0].update(lat="46.5"), "lat"
    yield (
        "altitude too high",
        lambda b: vol(b)["altitude_upper"].update(value=200000),
        "altitude_upper",
    )
    yield "altitude in feet", lambda b: vol(b)["altitude_upper"].update(units="FT"), "units"
    yield "altitude missing", lambda b: vol(b).pop("altitude_lower"), "altitude_lower"
    yield "lower above upper", lambda b: vol(b)["altitude_lower"].update(value=500), "altitude"
    yield (
        "end before start",
        lambda b: b["extents"][0].update(
            time_start=_rfc(now + timedelta(minutes=20)), time_end=_rfc(now + timedelta(minutes=10))
        ),
        "time_end",
    )
    yield (
        "end in the past",
        lambda b: b["extents"][0].update(
            time_start=_rfc(now - timedelta(hours=2)), time_end=_rfc(now - timedelta(hours=1))
        ),
        "time_end",
    )
    yield (
        "time without zone",
        lambda b: b["extents"][0]["time_end"].update(value="2030-01-01T00:00:00"),
        "time_end",
    )
    yield "time missing", lambda b: b["extents"][0].pop("time_start"), "time_start"
    yield "no extents", lambda b: b.update(extents=[]), "extents"
    yield "extents not a list", lambda b: b.update(extents={"a": 1}), "extents"
    yield (
        "two outlines",
        lambda b: vol(b).update(
            outline_circle={"center": {"lat": 0, "lng": 0}, "radius": {"value": 5, "units": "M"}}
        ),
        "outline",
    )
    yield "unknown state", lambda b: b.update(state="Ended"), "state"
    yield "state as number", lambda b: b.update(state=1), "state"
    yield "key not a list", lambda b: b.update(key="abc"), "key"
    yield "bad subscription id", lambda b: b.update(subscription_id="1234"), "subscription_id"
    yield (
        "http base url",
        lambda b: b.update(uss_base_url="http://uss1.example.com"),
        "uss_base_url",
    )
    yield "relative base url", lambda b: b.update(uss_base_url="uss1"), "uss_base_url"
    yield (
        "trailing slash",
        lambda b: b.update(uss_base_url="https://uss1.example.com/"),
        "uss_base_url",
    )
    yield "base url missing", lambda b: b.pop("uss_base_url"), "uss_base_url"
    # PostgreSQL text cannot hold NUL: refused at input, the same on every backend.
    yield (
        "NUL in base url",
        lambda b: b.update(uss_base_url="https://uss1.example.com/a\x00b"),
        "uss_base_url",
    )
    yield "NUL in key", lambda b: b["key"].append("ab\x00" * 8), "key"
    yield (
        "huge area",
        lambda b: vol(b).update(
            outline_polygon={
                "vertices": [
                    {"lat": 37, "lng": -81},
                    {"lat": 37, "lng": -80},
                    {"lat": 38, "lng": -80},
                    {"lat": 38, "lng": -81},
                ]
            }
        ),
        "area",
    )
    yield (
        "negative radius",
        lambda b: vol(b).update(
            outline_polygon=None,
            outline_circle={
                "center": {"lat": 46.5, "lng": 7.5},
                "radius": {"value": -5, "units": "M"},
            },
        ),
        "radius",
    )


MUTATIONS = list(_mutations(datetime.now(UTC)))


def test_bad_updates_and_creates_are_refused_and_change_nothing(
    client: TestClient, auth: Auth, existing: dict[str, Any], assert_spec: Spec
) -> None:
    ref = existing["ref"]
    now = datetime.now(UTC) + timedelta(minutes=5)
    failures = []
    for name, spoil, word in _mutations(now):
        body = copy.deepcopy(existing["body"])
        body["key"] = [ref["ovn"]]
        spoil(body)
        for path in (f"{OIR}/{ref['id']}/{ref['ovn']}", f"{OIR}/{_uuid()}"):
            r = client.put(path, json=body, headers=auth(SC))
            if not (400 <= r.status_code < 500) or word not in r.json().get("message", ""):
                failures.append((name, path, r.status_code, r.text))
                continue
            assert_spec(r.json(), "ErrorResponse")
    assert not failures, "\n".join(map(str, failures))
    r = client.get(f"{OIR}/{ref['id']}", headers=auth(SC))
    assert r.json()["operational_intent_reference"] == ref
    r = client.post(
        f"{OIR}/query",
        json={"area_of_interest": {"volume": existing["body"]["extents"][0]["volume"]}},
        headers=auth(SC),
    )
    assert [o["id"] for o in r.json()["operational_intent_references"]] == [ref["id"]]


def test_malformed_json_is_400(client: TestClient, auth: Auth, assert_spec: Spec) -> None:
    headers = {**auth(SC), "content-type": "application/json"}
    for raw in (b"{", b"", b"[1, 2]", b"null", b'{"area_of_interest": NaN}', b"\xff\xfe"):
        r = client.post(f"{OIR}/query", content=raw, headers=headers)
        assert r.status_code == 400, (raw, r.status_code, r.text)
        assert_spec(r.json(), "ErrorResponse")
    r = client.post(f"{OIR}/query", content=b"{", headers=headers)
    assert "JSON" in r.json()["message"]


def test_query_without_area_names_it(client: TestClient, auth: Auth) -> None:
    r = client.post(f"{OIR}/query", json={}, headers=auth(SC))
    assert r.status_code == 400
    assert "area_of_interest" in r.json()["message"]


def test_nan_and_infinity_are_refused(
    client: TestClient, auth: Auth, volume: VolumeFactory
) -> None:
    vol = volume()
    raw = json.dumps({"area_of_interest": vol}).replace('"lat": 46.495', '"lat": Infinity', 1)
    assert "Infinity" in raw
    r = client.post(
        f"{OIR}/query",
        content=raw.encode(),
        headers={**auth(SC), "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert "lat" in r.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        f"{OIR}/1234",
        f"{OIR}/2f8343be-6482-4d1b-a474-16847e01af1eX",
        f"{OIR}/2f8343be-6482-5d1b-a474-16847e01af1e",
        "/dss/v1/constraint_references/2f8343be-6482-4d1b-c474-16847e01af1e",
        "/dss/v1/subscriptions/zz8343be-6482-4d1b-a474-16847e01af1e",
    ],
)
def test_wrong_uuids_in_paths_are_400(client: TestClient, auth: Auth, path: str) -> None:
    r = client.get(path, headers=auth(SC, "utm.constraint_processing"))
    assert r.status_code == 400
    assert "id" in r.json()["message"] and "path" in r.json()["message"]


def test_short_ovn_in_path_is_400(client: TestClient, auth: Auth, existing: dict[str, Any]) -> None:
    r = client.delete(f"{OIR}/{existing['ref']['id']}/short", headers=auth(SC))
    assert r.status_code == 400
    assert "ovn" in r.json()["message"]


def test_nul_characters_are_refused_and_change_nothing(
    client: TestClient, auth: Auth, volume: VolumeFactory, existing: dict[str, Any]
) -> None:
    nul_url = "https://uss1.example.com/\x00"
    sub = {"extents": volume(), "uss_base_url": nul_url, "notify_for_operational_intents": True}
    r = client.put(f"/dss/v1/subscriptions/{_uuid()}", json=sub, headers=auth(SC))
    assert r.status_code == 400 and "uss_base_url" in r.json()["message"], r.text
    cr = {"extents": [volume()], "uss_base_url": nul_url}
    r = client.put(
        f"/dss/v1/constraint_references/{_uuid()}",
        json=cr,
        headers=auth("utm.constraint_management"),
    )
    assert r.status_code == 400 and "uss_base_url" in r.json()["message"], r.text
    availability = "/dss/v1/uss_availability/uss%00x"
    arbitration = auth("utm.availability_arbitration")
    r = client.put(
        availability, json={"old_version": "", "availability": "Down"}, headers=arbitration
    )
    assert r.status_code == 400 and "uss_id" in r.json()["message"], r.text
    r = client.get(availability, headers=auth(SC))
    assert r.status_code == 400 and "uss_id" in r.json()["message"], r.text
    r = client.post(
        f"{OIR}/query",
        json={"area_of_interest": existing["body"]["extents"][0]},
        headers=auth(SC, sub="uss\x00x"),
    )
    assert r.status_code == 401 and "sub" in r.json()["message"], r.text
    r = client.post(
        "/dss/v1/subscriptions/query",
        json={"area_of_interest": existing["body"]["extents"][0]},
        headers=auth(SC),
    )
    assert r.status_code == 200 and r.json()["subscriptions"] == []


def test_unknown_endpoint_and_method_are_error_responses(
    client: TestClient, auth: Auth, assert_spec: Spec
) -> None:
    r = client.get("/dss/v1/nothing", headers=auth(SC))
    assert r.status_code == 404
    assert_spec(r.json(), "ErrorResponse")
    r = client.patch(f"{OIR}/{_uuid()}", headers=auth(SC))
    assert r.status_code == 405
    assert_spec(r.json(), "ErrorResponse")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_oversized_body_is_413(
    db_url: str, public_key_path: Any, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    settings = Settings(db_url=db_url, public_key_pems=(public_key_path,), max_body_bytes=4096)
    with TestClient(create_app(settings), base_url="http://localhost") as c:
        vol = volume()
        small = c.post(f"{OIR}/query", json={"area_of_interest": vol}, headers=auth(SC))
        assert small.status_code == 200
        big = {"area_of_interest": vol, "padding": "x" * 5000}
        r = c.post(f"{OIR}/query", json=big, headers=auth(SC))
        assert r.status_code == 413
        assert_spec(r.json(), "ErrorResponse")

        def chunks() -> Iterator[bytes]:  # no Content-Length: streamed
            yield b'{"area_of_interest": ' + json.dumps(vol).encode()
            for _ in range(10):
                yield b", " + b'"p": "' + b"y" * 1000 + b'"'
            yield b"}"

        r = c.post(
            f"{OIR}/query",
            content=chunks(),
            headers={**auth(SC), "content-type": "application/json"},
        )
        assert r.status_code == 413
