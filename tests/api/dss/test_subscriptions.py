"""Subscriptions over HTTP: every endpoint and status code of f3548-dss.md §1.2."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

SC = "utm.strategic_coordination"
CP = "utm.constraint_processing"
SUB = "/dss/v1/subscriptions"

Auth = Callable[..., dict[str, str]]
Spec = Callable[[Any, str], None]
VolumeFactory = Callable[..., dict[str, Any]]


def _uuid() -> str:
    return str(uuid.uuid4())


def _body(extents: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": extents,
        "uss_base_url": "https://uss1.example.com",
        "notify_for_operational_intents": True,
        "notify_for_constraints": False,
    }
    body.update(changes)
    return body


def test_create_get_query_update_delete(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    sid = _uuid()
    vol = volume()
    r = client.put(f"{SUB}/{sid}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 200, r.text  # 200, not 201, for subscriptions
    assert_spec(r.json(), "PutSubscriptionResponse")
    sub = r.json()["subscription"]
    assert sub["id"] == sid and sub["implicit_subscription"] is False
    assert sub["notify_for_operational_intents"] is True

    r = client.get(f"{SUB}/{sid}", headers=auth(SC))
    assert r.status_code == 200
    assert_spec(r.json(), "GetSubscriptionResponse")
    assert r.json()["subscription"] == sub

    r = client.post(f"{SUB}/query", json={"area_of_interest": vol}, headers=auth(SC))
    assert r.status_code == 200
    assert_spec(r.json(), "QuerySubscriptionsResponse")
    assert [s["id"] for s in r.json()["subscriptions"]] == [sid]
    r = client.post(f"{SUB}/query", json={"area_of_interest": vol}, headers=auth(SC, sub="uss2"))
    assert r.json() == {"subscriptions": []}  # only the caller's own

    r = client.put(
        f"{SUB}/{sid}/{sub['version']}",
        json=_body(volume(half_size_deg=0.01), notify_for_constraints=True),
        headers=auth(SC, CP),
    )
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "PutSubscriptionResponse")
    updated = r.json()["subscription"]
    assert updated["version"] != sub["version"] and updated["notify_for_constraints"] is True

    r = client.delete(f"{SUB}/{sid}/{updated['version']}", headers=auth(SC))
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "DeleteSubscriptionResponse")
    assert client.get(f"{SUB}/{sid}", headers=auth(SC)).status_code == 404


def test_subscription_returns_intents_in_its_area(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    oid = _uuid()
    r = client.put(
        f"/dss/v1/operational_intent_references/{oid}",
        json={
            "extents": [vol],
            "key": [],
            "state": "Accepted",
            "uss_base_url": "https://o.example.com",
        },
        headers=auth(SC, sub="operator"),
    )
    assert r.status_code == 201
    r = client.put(f"{SUB}/{_uuid()}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 200
    assert_spec(r.json(), "PutSubscriptionResponse")
    assert [o["id"] for o in r.json()["operational_intent_references"]] == [oid]


def test_version_conflicts_and_ownership(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    sid = _uuid()
    sub = client.put(f"{SUB}/{sid}", json=_body(vol), headers=auth(SC)).json()["subscription"]
    r = client.put(f"{SUB}/{sid}", json=_body(vol), headers=auth(SC))
    assert r.status_code == 409  # already exists
    assert_spec(r.json(), "ErrorResponse")
    for method in ("PUT", "DELETE"):  # empty version
        r = client.request(method, f"{SUB}/{sid}/", json=_body(vol), headers=auth(SC))
        assert r.status_code == 400
        assert "version" in r.json()["message"]
    r = client.put(f"{SUB}/{sid}/not-the-version", json=_body(vol), headers=auth(SC))
    assert r.status_code == 409
    r = client.delete(f"{SUB}/{sid}/not-the-version", headers=auth(SC))
    assert r.status_code == 409
    r = client.delete(f"{SUB}/{sid}/{sub['version']}", headers=auth(SC, sub="uss2"))
    assert r.status_code == 403
    assert_spec(r.json(), "ErrorResponse")
    r = client.delete(f"{SUB}/{_uuid()}/{sub['version']}", headers=auth(SC))
    assert r.status_code == 404
    assert client.get(f"{SUB}/{sid}", headers=auth(SC)).json()["subscription"] == sub


def test_limits_and_rules_are_400(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    r = client.put(
        f"{SUB}/{_uuid()}", json=_body(volume(duration=timedelta(hours=25))), headers=auth(SC)
    )
    assert r.status_code == 400, r.text
    r = client.put(
        f"{SUB}/{_uuid()}",
        json=_body(volume(), notify_for_operational_intents=False, notify_for_constraints=False),
        headers=auth(SC),
    )
    assert r.status_code == 400, r.text
    huge = volume(lat=37.5, lng=-80.5, half_size_deg=1.0)
    r = client.put(f"{SUB}/{_uuid()}", json=_body(huge), headers=auth(SC))
    assert r.status_code == 400, r.text  # the spec lists no 413 for subscription writes
    r = client.post(f"{SUB}/query", json={"area_of_interest": huge}, headers=auth(SC))
    assert r.status_code == 413, r.text
    assert client.post(
        f"{SUB}/query", json={"area_of_interest": volume()}, headers=auth(SC)
    ).json() == {"subscriptions": []}


def test_bad_id_is_400(client: TestClient, auth: Auth) -> None:
    r = client.get(f"{SUB}/00000000-0000-0000-0000-000000000000", headers=auth(SC))
    assert r.status_code == 400
    assert "subscriptionid" in r.json()["message"]
