"""Operational intent references over HTTP: every endpoint and status code of f3548-dss.md §1.2,
bodies checked against utm.yaml; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sharedsky.config import Settings
from sharedsky.model.strategic import NO_OVN_PHRASE, NULL_SUBSCRIPTION_ID

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CP = "utm.constraint_processing"
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


def _body(extents: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": extents,
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
    }
    body.update(changes)
    return body


def _create(
    client: TestClient, headers: dict[str, str], extents: list[dict[str, Any]], **changes: Any
) -> dict[str, Any]:
    r = client.put(f"{OIR}/{_uuid()}", json=_body(extents, **changes), headers=headers)
    assert r.status_code == 201, r.text
    ref: dict[str, Any] = r.json()["operational_intent_reference"]
    return ref


def test_create_get_query_update_delete(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    eid = _uuid()
    vol = volume()
    r = client.put(f"{OIR}/{eid}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 201, r.text
    assert_spec(r.json(), "ChangeOperationalIntentReferenceResponse")
    ref = r.json()["operational_intent_reference"]
    assert (ref["id"], ref["manager"], ref["version"], ref["state"]) == (eid, "uss1", 1, "Accepted")
    assert ref["subscription_id"] == NULL_SUBSCRIPTION_ID
    assert ref["time_start"]["value"].endswith("Z") and ref["time_start"]["format"] == "RFC3339"
    ovn1 = ref["ovn"]
    assert 16 <= len(ovn1) <= 128

    r = client.get(f"{OIR}/{eid}", headers=auth(SC))
    assert r.status_code == 200
    assert_spec(r.json(), "GetOperationalIntentReferenceResponse")
    assert r.json()["operational_intent_reference"] == ref

    r = client.post(f"{OIR}/query", json={"area_of_interest": vol}, headers=auth(CMSA))
    assert r.status_code == 200
    assert_spec(r.json(), "QueryOperationalIntentReferenceResponse")
    assert [o["id"] for o in r.json()["operational_intent_references"]] == [eid]

    r = client.put(
        f"{OIR}/{eid}/{ovn1}",
        json=_body(
            [vol], state="Activated", new_subscription={"uss_base_url": "https://u1.example.com"}
        ),
        headers=auth(SC),
    )
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "ChangeOperationalIntentReferenceResponse")
    updated = r.json()["operational_intent_reference"]
    assert (updated["version"], updated["state"]) == (2, "Activated")
    assert updated["ovn"] != ovn1
    assert updated["subscription_id"] != NULL_SUBSCRIPTION_ID

    r = client.delete(f"{OIR}/{eid}/{updated['ovn']}", headers=auth(SC))
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "ChangeOperationalIntentReferenceResponse")
    assert r.json()["operational_intent_reference"]["id"] == eid

    r = client.get(f"{OIR}/{eid}", headers=auth(SC))
    assert r.status_code == 404
    assert_spec(r.json(), "ErrorResponse")


def test_query_outside_finds_nothing(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    _create(client, auth(SC), [volume()])
    far = volume(lat=-33.9, lng=151.2)
    r = client.post(f"{OIR}/query", json={"area_of_interest": far}, headers=auth(SC))
    assert r.status_code == 200
    assert r.json() == {"operational_intent_references": []}


def test_others_see_the_ovn_placeholder(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    ref = _create(client, auth(SC), [volume()])
    r = client.get(f"{OIR}/{ref['id']}", headers=auth(SC, sub="uss2"))
    assert r.status_code == 200
    assert_spec(r.json(), "GetOperationalIntentReferenceResponse")
    assert r.json()["operational_intent_reference"]["ovn"] == NO_OVN_PHRASE


def test_missing_key_is_a_409_listing_the_missing_intents(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    first = _create(client, auth(SC), [vol])
    eid = _uuid()
    r = client.put(f"{OIR}/{eid}", json=_body([vol]), headers=auth(SC, sub="uss2"))
    assert r.status_code == 409, r.text
    assert_spec(r.json(), "AirspaceConflictResponse")
    missing = r.json()["missing_operational_intents"]
    assert [m["id"] for m in missing] == [first["id"]]
    assert missing[0]["ovn"] == NO_OVN_PHRASE
    assert r.json()["missing_constraints"] == []
    r = client.put(
        f"{OIR}/{eid}", json=_body([vol], key=[first["ovn"]]), headers=auth(SC, sub="uss2")
    )
    assert r.status_code == 201, r.text


def test_update_with_missing_key_is_409(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    mine = _create(client, auth(SC), [volume(lat=46.6)])
    other = _create(client, auth(SC, sub="uss2"), [vol])
    r = client.put(f"{OIR}/{mine['id']}/{mine['ovn']}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 409
    assert_spec(r.json(), "AirspaceConflictResponse")
    assert [m["id"] for m in r.json()["missing_operational_intents"]] == [other["id"]]


def test_update_needs_the_current_ovn(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    ref = _create(client, auth(SC), [vol])
    wrong = "x" * 20
    r = client.put(f"{OIR}/{ref['id']}/{wrong}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 409
    assert_spec(r.json(), "ErrorResponse")
    r = client.get(f"{OIR}/{ref['id']}", headers=auth(SC))
    assert r.json()["operational_intent_reference"]["ovn"] == ref["ovn"]


def test_update_of_a_missing_intent_is_400(
    client: TestClient, auth: Auth, volume: VolumeFactory
) -> None:
    r = client.put(f"{OIR}/{_uuid()}/{'y' * 20}", json=_body([volume()]), headers=auth(SC))
    assert r.status_code == 400
    assert "entityid" in r.json()["message"]


def test_create_twice_is_409(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    vol = volume()
    eid = _uuid()
    assert client.put(f"{OIR}/{eid}", json=_body([vol]), headers=auth(SC)).status_code == 201
    r = client.put(f"{OIR}/{eid}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 409


def test_only_the_manager_may_change_or_delete(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    ref = _create(client, auth(SC), [vol])
    path = f"{OIR}/{ref['id']}/{ref['ovn']}"
    r = client.put(path, json=_body([vol], key=[ref["ovn"]]), headers=auth(SC, sub="uss2"))
    assert r.status_code == 403
    assert_spec(r.json(), "ErrorResponse")
    r = client.delete(path, headers=auth(SC, sub="uss2"))
    assert r.status_code == 403
    assert (
        client.get(f"{OIR}/{ref['id']}", headers=auth(SC)).json()["operational_intent_reference"]
        == ref
    )


def test_delete_needs_the_current_ovn_and_an_existing_intent(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    ref = _create(client, auth(SC), [volume()])
    r = client.delete(f"{OIR}/{ref['id']}/{'z' * 20}", headers=auth(SC))
    assert r.status_code == 409
    assert_spec(r.json(), "ErrorResponse")
    r = client.delete(f"{OIR}/{_uuid()}/{'z' * 20}", headers=auth(SC))
    assert r.status_code == 404
    assert_spec(r.json(), "ErrorResponse")
    r = client.delete(f"{OIR}/{ref['id']}/", headers=auth(SC))  # empty OVN
    assert r.status_code == 400
    assert "ovn" in r.json()["message"]
    r = client.put(f"{OIR}/{ref['id']}/", json=_body([volume()]), headers=auth(SC))
    assert r.status_code == 400
    assert client.get(f"{OIR}/{ref['id']}", headers=auth(SC)).status_code == 200


def test_state_rules(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    vol = volume()
    sub = {"new_subscription": {"uss_base_url": "https://uss1.example.com"}}
    r = client.put(
        f"{OIR}/{_uuid()}", json=_body([vol], state="Activated", **sub), headers=auth(SC)
    )
    assert r.status_code == 400
    assert "state" in r.json()["message"]
    for state in ("Nonconforming", "Contingent"):
        r = client.put(f"{OIR}/{_uuid()}", json=_body([vol], state=state, **sub), headers=auth(SC))
        assert r.status_code in (400, 403)
    ref = _create(client, auth(SC), [vol])
    path = f"{OIR}/{ref['id']}/{ref['ovn']}"
    r = client.put(path, json=_body([vol], state="Activated"), headers=auth(SC))
    assert r.status_code == 400
    assert "subscription" in r.json()["message"]
    r = client.put(path, json=_body([vol], state="Nonconforming", **sub), headers=auth(SC))
    assert r.status_code == 403
    r = client.put(path, json=_body([vol], state="Nonconforming", **sub), headers=auth(CMSA))
    assert r.status_code == 200, r.text
    assert r.json()["operational_intent_reference"]["state"] == "Nonconforming"


def test_sc_plus_cp_scope_group_may_write(
    client: TestClient, auth: Auth, volume: VolumeFactory
) -> None:
    r = client.put(f"{OIR}/{_uuid()}", json=_body([volume()]), headers=auth(SC, CP))
    assert r.status_code == 201, r.text


def test_subscribers_are_returned(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    sid = _uuid()
    r = client.put(
        f"/dss/v1/subscriptions/{sid}",
        json={
            "extents": volume(half_size_deg=0.02, duration=timedelta(hours=2)),
            "uss_base_url": "https://watcher.example.com",
            "notify_for_operational_intents": True,
        },
        headers=auth(SC, sub="watcher"),
    )
    assert r.status_code == 200, r.text
    r = client.put(f"{OIR}/{_uuid()}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 201
    assert_spec(r.json(), "ChangeOperationalIntentReferenceResponse")
    subscribers = r.json()["subscribers"]
    assert [s["uss_base_url"] for s in subscribers] == ["https://watcher.example.com"]
    assert [s["subscription_id"] for s in subscribers[0]["subscriptions"]] == [sid]


def test_requested_ovn_suffix(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    ms = int(datetime.now(UTC).timestamp() * 1000)
    rand = uuid.uuid4().int & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 50) & 0xFFF) << 64 | (0b10 << 62) | rand
    suffix = str(uuid.UUID(int=value))
    eid = _uuid()
    r = client.put(
        f"{OIR}/{eid}", json=_body([volume()], requested_ovn_suffix=suffix), headers=auth(SC)
    )
    assert r.status_code == 201, r.text
    assert r.json()["operational_intent_reference"]["ovn"] == f"{eid}_{suffix}"
    old = str(uuid.UUID(int=((ms - 3_600_000) << 80) | (value & ((1 << 80) - 1))))
    r = client.put(
        f"{OIR}/{_uuid()}", json=_body([volume()], requested_ovn_suffix=old), headers=auth(SC)
    )
    assert r.status_code == 400
    assert "requested_ovn_suffix" in r.json()["message"]


def test_huge_area_is_413(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    huge = volume(lat=37.5, lng=-80.5, half_size_deg=0.5)
    r = client.put(f"{OIR}/{_uuid()}", json=_body([huge]), headers=auth(SC))
    assert r.status_code == 413, r.text
    r = client.post(f"{OIR}/query", json={"area_of_interest": huge}, headers=auth(SC))
    assert r.status_code == 413, r.text


@pytest.mark.parametrize("ids", ["not-a-uuid", "2f8343be-6482-1d1b-a474-16847e01af1e"])
def test_get_with_a_bad_id_is_400(client: TestClient, auth: Auth, ids: str) -> None:
    r = client.get(f"{OIR}/{ids}", headers=auth(SC))
    assert r.status_code == 400
    assert "entityid" in r.json()["message"]


def test_a_uss_marked_down_gets_412_until_it_is_available_again(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    AA = "utm.availability_arbitration"
    vol = volume()
    ref = _create(client, auth(SC), [vol])
    r = client.put(
        "/dss/v1/uss_availability/uss1",
        json={"old_version": "", "availability": "Down"},
        headers=auth(AA),
    )
    assert r.status_code == 200, r.text
    version = r.json()["version"]

    # Accepted or Activated (create, update) and delete are refused with 412 ...
    r = client.put(f"{OIR}/{_uuid()}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 412, r.text
    assert_spec(r.json(), "ErrorResponse")
    assert "Down" in r.json()["message"]
    r = client.put(f"{OIR}/{ref['id']}/{ref['ovn']}", json=_body([vol]), headers=auth(SC))
    assert r.status_code == 412, r.text
    r = client.delete(f"{OIR}/{ref['id']}/{ref['ovn']}", headers=auth(SC))
    assert r.status_code == 412, r.text
    # ... and nothing changed
    r = client.get(f"{OIR}/{ref['id']}", headers=auth(SC))
    assert (
        r.json()["operational_intent_reference"]["version"],
        r.json()["operational_intent_reference"]["ovn"],
    ) == (1, ref["ovn"])

    # another USS is not affected
    r = client.put(f"{OIR}/{_uuid()}", json=_body([vol], key=[]), headers=auth(SC, sub="uss2"))
    assert r.status_code == 201, r.text

    r = client.put(
        "/dss/v1/uss_availability/uss1",
        json={"old_version": version, "availability": "Normal"},
        headers=auth(AA),
    )
    assert r.status_code == 200, r.text
    r = client.delete(f"{OIR}/{ref['id']}/{ref['ovn']}", headers=auth(SC))
    assert r.status_code == 200, r.text
