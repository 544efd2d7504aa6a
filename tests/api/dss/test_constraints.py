"""Constraint references over HTTP: every endpoint and status code of f3548-dss.md §1.2."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from sharedsky.model.strategic import NO_OVN_PHRASE

CM = "utm.constraint_management"
CP = "utm.constraint_processing"
SC = "utm.strategic_coordination"
CR = "/dss/v1/constraint_references"

Auth = Callable[..., dict[str, str]]
Spec = Callable[[Any, str], None]
VolumeFactory = Callable[..., dict[str, Any]]


def _uuid() -> str:
    return str(uuid.uuid4())


def _body(
    extents: list[dict[str, Any]], url: str = "https://authority.example.com"
) -> dict[str, Any]:
    return {"extents": extents, "uss_base_url": url}


def test_create_get_query_update_delete(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    eid = _uuid()
    vol = volume()
    r = client.put(f"{CR}/{eid}", json=_body([vol]), headers=auth(CM, sub="authority"))
    assert r.status_code == 201, r.text
    assert_spec(r.json(), "ChangeConstraintReferenceResponse")
    ref = r.json()["constraint_reference"]
    assert (ref["id"], ref["manager"], ref["version"]) == (eid, "authority", 1)
    assert "state" not in ref and "subscription_id" not in ref

    r = client.get(f"{CR}/{eid}", headers=auth(CM, sub="authority"))
    assert r.status_code == 200
    assert_spec(r.json(), "GetConstraintReferenceResponse")
    assert r.json()["constraint_reference"] == ref

    r = client.get(f"{CR}/{eid}", headers=auth(CP, sub="reader"))
    assert r.status_code == 200
    assert r.json()["constraint_reference"]["ovn"] == NO_OVN_PHRASE

    r = client.post(f"{CR}/query", json={"area_of_interest": vol}, headers=auth(CP))
    assert r.status_code == 200
    assert_spec(r.json(), "QueryConstraintReferencesResponse")
    assert [c["id"] for c in r.json()["constraint_references"]] == [eid]

    r = client.put(
        f"{CR}/{eid}/{ref['ovn']}",
        json=_body([volume(half_size_deg=0.01)]),
        headers=auth(CM, sub="authority"),
    )
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "ChangeConstraintReferenceResponse")
    updated = r.json()["constraint_reference"]
    assert updated["version"] == 2 and updated["ovn"] != ref["ovn"]

    r = client.delete(f"{CR}/{eid}/{updated['ovn']}", headers=auth(CM, sub="authority"))
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "ChangeConstraintReferenceResponse")
    assert client.get(f"{CR}/{eid}", headers=auth(CP)).status_code == 404


def test_wrong_ovn_other_manager_and_missing(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    eid = _uuid()
    ref = client.put(f"{CR}/{eid}", json=_body([vol]), headers=auth(CM, sub="authority")).json()[
        "constraint_reference"
    ]
    r = client.put(f"{CR}/{eid}/{'w' * 20}", json=_body([vol]), headers=auth(CM, sub="authority"))
    assert r.status_code == 409
    assert_spec(r.json(), "ErrorResponse")
    r = client.put(f"{CR}/{eid}/{ref['ovn']}", json=_body([vol]), headers=auth(CM, sub="other"))
    assert r.status_code == 403
    r = client.delete(f"{CR}/{eid}/{ref['ovn']}", headers=auth(CM, sub="other"))
    assert r.status_code == 403
    r = client.delete(f"{CR}/{eid}/{'w' * 20}", headers=auth(CM, sub="authority"))
    assert r.status_code == 409
    r = client.delete(f"{CR}/{eid}/", headers=auth(CM, sub="authority"))  # empty OVN
    assert r.status_code == 400
    r = client.delete(f"{CR}/{_uuid()}/{'w' * 20}", headers=auth(CM, sub="authority"))
    assert r.status_code == 404
    assert_spec(r.json(), "ErrorResponse")
    r = client.put(f"{CR}/{eid}", json=_body([vol]), headers=auth(CM, sub="authority"))
    assert r.status_code == 409
    r = client.get(f"{CR}/{eid}", headers=auth(CM, sub="authority"))
    assert r.json()["constraint_reference"] == ref


def test_constraint_processing_cannot_write(
    client: TestClient, auth: Auth, volume: VolumeFactory
) -> None:
    r = client.put(f"{CR}/{_uuid()}", json=_body([volume()]), headers=auth(CP, SC))
    assert r.status_code == 403


def test_intent_with_constraint_notifications_must_know_constraints(
    client: TestClient, auth: Auth, volume: VolumeFactory, assert_spec: Spec
) -> None:
    vol = volume()
    cr = client.put(f"{CR}/{_uuid()}", json=_body([vol]), headers=auth(CM, sub="authority")).json()[
        "constraint_reference"
    ]
    body = {
        "extents": [vol],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
        "new_subscription": {
            "uss_base_url": "https://uss1.example.com",
            "notify_for_constraints": True,
        },
    }
    r = client.put(
        f"/dss/v1/operational_intent_references/{_uuid()}", json=body, headers=auth(SC, CP)
    )
    assert r.status_code == 409, r.text
    assert_spec(r.json(), "AirspaceConflictResponse")
    assert [c["id"] for c in r.json()["missing_constraints"]] == [cr["id"]]


def test_huge_area_is_413(client: TestClient, auth: Auth, volume: VolumeFactory) -> None:
    huge = volume(lat=37.5, lng=-80.5, half_size_deg=1.0)
    r = client.put(f"{CR}/{_uuid()}", json=_body([huge]), headers=auth(CM))
    assert r.status_code == 413, r.text
    r = client.post(f"{CR}/query", json={"area_of_interest": huge}, headers=auth(CP))
    assert r.status_code == 413, r.text


def test_bad_id_is_400(client: TestClient, auth: Auth) -> None:
    r = client.get(f"{CR}/nope", headers=auth(CP))
    assert r.status_code == 400
    assert "entityid" in r.json()["message"]
