"""Authentication and scopes on EVERY DSS endpoint: no token, bad signature, expired token and
wrong audience are 401; a token without an allowed scope is 403; the right scope succeeds. All
error bodies are ErrorResponse, and refused requests change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"
OIR = "/dss/v1/operational_intent_references"
CR = "/dss/v1/constraint_references"
SUB = "/dss/v1/subscriptions"

Auth = Callable[..., dict[str, str]]
VolumeFactory = Callable[..., dict[str, Any]]
Request = tuple[str, str, dict[str, Any] | None]


def _uuid() -> str:
    return str(uuid.uuid4())


def _oir_body(vol: dict[str, Any]) -> dict[str, Any]:
    return {
        "extents": [vol],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://u.example.com",
    }


def _cr_body(vol: dict[str, Any]) -> dict[str, Any]:
    return {"extents": [vol], "uss_base_url": "https://u.example.com"}


def _sub_body(vol: dict[str, Any]) -> dict[str, Any]:
    return {
        "extents": vol,
        "uss_base_url": "https://u.example.com",
        "notify_for_operational_intents": True,
    }


def _oir(c: TestClient, auth: Auth, vol: dict[str, Any]) -> tuple[str, str]:
    eid = _uuid()
    r = c.put(f"{OIR}/{eid}", json=_oir_body(vol), headers=auth(SC))
    assert r.status_code == 201, r.text
    return eid, r.json()["operational_intent_reference"]["ovn"]


def _cr(c: TestClient, auth: Auth, vol: dict[str, Any]) -> tuple[str, str]:
    eid = _uuid()
    r = c.put(f"{CR}/{eid}", json=_cr_body(vol), headers=auth(CM))
    assert r.status_code == 201, r.text
    return eid, r.json()["constraint_reference"]["ovn"]


def _sub(c: TestClient, auth: Auth, vol: dict[str, Any]) -> tuple[str, str]:
    sid = _uuid()
    r = c.put(f"{SUB}/{sid}", json=_sub_body(vol), headers=auth(SC))
    assert r.status_code == 200, r.text
    return sid, r.json()["subscription"]["version"]


REPORT = {
    "exchange": {
        "url": "https://p.example.com/x",
        "method": "GET",
        "recorder_role": "Client",
        "request_time": {"value": "2030-01-01T00:00:00Z", "format": "RFC3339"},
    }
}

Prepare = Callable[[TestClient, Auth, dict[str, Any]], Request]

# operationId -> (prepare the request, a scope that is not enough, scope groups that are, success)
CASES: dict[str, tuple[Prepare, str, list[tuple[str, ...]], int]] = {
    "queryOperationalIntentReferences": (
        lambda c, a, v: ("POST", f"{OIR}/query", {"area_of_interest": v}),
        CM,
        [(SC,), (CMSA,)],
        200,
    ),
    "getOperationalIntentReference": (
        lambda c, a, v: ("GET", f"{OIR}/{_oir(c, a, v)[0]}", None),
        CP,
        [(SC,), (CMSA,)],
        200,
    ),
    "createOperationalIntentReference": (
        lambda c, a, v: ("PUT", f"{OIR}/{_uuid()}", _oir_body(v)),
        CP,
        [(SC,), (SC, CP), (CMSA,)],
        201,
    ),
    "updateOperationalIntentReference": (
        lambda c, a, v: ("PUT", f"{OIR}/{'/'.join(_oir(c, a, v))}", _oir_body(v)),
        CP,
        [(SC,), (SC, CP), (CMSA,)],
        200,
    ),
    "deleteOperationalIntentReference": (
        lambda c, a, v: ("DELETE", f"{OIR}/{'/'.join(_oir(c, a, v))}", None),
        CP,
        [(SC,), (CMSA,)],
        200,
    ),
    "queryConstraintReferences": (
        lambda c, a, v: ("POST", f"{CR}/query", {"area_of_interest": v}),
        SC,
        [(CM,), (CP,)],
        200,
    ),
    "getConstraintReference": (
        lambda c, a, v: ("GET", f"{CR}/{_cr(c, a, v)[0]}", None),
        SC,
        [(CM,), (CP,)],
        200,
    ),
    "createConstraintReference": (
        lambda c, a, v: ("PUT", f"{CR}/{_uuid()}", _cr_body(v)),
        CP,
        [(CM,)],
        201,
    ),
    "updateConstraintReference": (
        lambda c, a, v: ("PUT", f"{CR}/{'/'.join(_cr(c, a, v))}", _cr_body(v)),
        CP,
        [(CM,)],
        200,
    ),
    "deleteConstraintReference": (
        lambda c, a, v: ("DELETE", f"{CR}/{'/'.join(_cr(c, a, v))}", None),
        CP,
        [(CM,)],
        200,
    ),
    "querySubscriptions": (
        lambda c, a, v: ("POST", f"{SUB}/query", {"area_of_interest": v}),
        CM,
        [(CP,), (SC,)],
        200,
    ),
    "getSubscription": (
        lambda c, a, v: ("GET", f"{SUB}/{_sub(c, a, v)[0]}", None),
        CM,
        [(CP,), (SC,)],
        200,
    ),
    "createSubscription": (
        lambda c, a, v: ("PUT", f"{SUB}/{_uuid()}", _sub_body(v)),
        CM,
        [(SC,)],
        200,
    ),
    "updateSubscription": (
        lambda c, a, v: ("PUT", f"{SUB}/{'/'.join(_sub(c, a, v))}", _sub_body(v)),
        CM,
        [(SC,)],
        200,
    ),
    "deleteSubscription": (
        lambda c, a, v: ("DELETE", f"{SUB}/{'/'.join(_sub(c, a, v))}", None),
        CM,
        [(CP,), (SC,)],
        200,
    ),
    "makeDssReport": (
        lambda c, a, v: ("POST", "/dss/v1/reports", REPORT),
        "interuss.pool_status.read",
        [(CM,), (CP,), (SC,), (CMSA,), (AA,)],
        201,
    ),
    "setUssAvailability": (
        lambda c, a, v: (
            "PUT",
            "/dss/v1/uss_availability/uss1",
            {"old_version": "", "availability": "Normal"},
        ),
        SC,
        [(AA,)],
        200,
    ),
    "getUssAvailability": (
        lambda c, a, v: ("GET", "/dss/v1/uss_availability/uss1", None),
        CM,
        [(AA,), (SC,), (CMSA,)],
        200,
    ),
}


def _send(c: TestClient, req: Request, headers: dict[str, str]) -> Any:
    method, path, body = req
    return c.request(method, path, json=body, headers=headers)


def _assert_error(r: Any, code: int, assert_spec: Callable[[Any, str], None]) -> None:
    assert r.status_code == code, (r.status_code, r.text)
    assert_spec(r.json(), "ErrorResponse")
    assert r.json()["message"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # auth does not touch storage
@pytest.mark.parametrize("operation", sorted(CASES))
def test_every_endpoint_checks_tokens_and_scopes(
    operation: str,
    client: TestClient,
    auth: Auth,
    token: Callable[..., str],
    foreign_private_key_pem: bytes,
    volume: VolumeFactory,
    assert_spec: Callable[[Any, str], None],
) -> None:
    prepare, wrong_scope, groups, success = CASES[operation]
    vol = volume()

    def bearer(tok: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tok}"}

    right = groups[0]
    req = prepare(client, auth, vol)
    r = _send(client, req, {})
    _assert_error(r, 401, assert_spec)
    assert r.headers["www-authenticate"] == "Bearer"
    _assert_error(
        _send(client, req, bearer(token(right, key=foreign_private_key_pem))), 401, assert_spec
    )
    expired = token(right, now=datetime.now(UTC) - timedelta(hours=3))
    _assert_error(_send(client, req, bearer(expired)), 401, assert_spec)
    _assert_error(
        _send(client, req, bearer(token(right, audience="elsewhere.example.com"))), 401, assert_spec
    )
    _assert_error(_send(client, req, bearer(token([wrong_scope]))), 403, assert_spec)
    _assert_error(_send(client, req, bearer(token([]))), 403, assert_spec)
    for i, group in enumerate(groups):
        if i > 0:  # a fresh entity, away from the others (own intents need keys too)
            req = prepare(client, auth, volume(lat=10.0 + 5 * i))
        if operation == "setUssAvailability":
            current = client.get("/dss/v1/uss_availability/uss1", headers=auth(AA)).json()
            req = (req[0], req[1], {"old_version": current["version"], "availability": "Normal"})
        r = _send(client, req, auth(*group))
        assert r.status_code == success, (group, r.status_code, r.text)


def test_refused_writes_change_nothing(
    client: TestClient, auth: Auth, token: Callable[..., str], volume: VolumeFactory
) -> None:
    vol = volume()
    eid, ovn = _oir(client, auth, vol)
    before = client.get(f"{OIR}/{eid}", headers=auth(SC)).json()
    bad = {"Authorization": f"Bearer {token([CM])}"}
    assert client.delete(f"{OIR}/{eid}/{ovn}", headers=bad).status_code == 403
    assert client.put(f"{OIR}/{eid}/{ovn}", json=_oir_body(vol), headers={}).status_code == 401
    assert client.get(f"{OIR}/{eid}", headers=auth(SC)).json() == before


def test_token_for_another_audience_is_refused_even_with_all_scopes(
    client: TestClient, token: Callable[..., str]
) -> None:
    tok = token([SC, CMSA, CM, CP, AA], audience="dss.other.example")
    r = client.get(f"{OIR}/{_uuid()}", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401
    assert "audience" in r.json()["message"]


def test_server_without_keys_refuses_every_dss_request(db_url: str, auth: Auth) -> None:
    from sharedsky.api import create_app
    from sharedsky.config import Settings

    app = create_app(Settings(db_url=db_url))
    with TestClient(app, base_url="http://localhost") as c:
        r = c.get(f"{OIR}/{_uuid()}", headers=auth(SC))
        assert r.status_code == 401
        assert "no public key" in r.json()["message"]
        assert c.get("/healthy").text == "ok"
