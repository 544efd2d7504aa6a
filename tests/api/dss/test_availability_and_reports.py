"""USS availability, reports, version and health over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

import sharedsky

AA = "utm.availability_arbitration"
SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"

Auth = Callable[..., dict[str, str]]
Spec = Callable[[Any, str], None]

REPORT = {
    "exchange": {
        "url": "https://uss2.example.com/uss/v1/operational_intents/x",
        "method": "GET",
        "headers": ["Authorization: Bearer redacted"],
        "recorder_role": "Client",
        "request_time": {"value": "2030-01-01T00:00:00Z", "format": "RFC3339"},
        "response_time": {"value": "2030-01-01T00:00:01.5Z", "format": "RFC3339"},
        "response_code": 500,
        "problem": "peer answered 500",
    }
}


def test_availability_unknown_then_set_and_versioned(
    client: TestClient, auth: Auth, assert_spec: Spec
) -> None:
    r = client.get("/dss/v1/uss_availability/uss9", headers=auth(SC))
    assert r.status_code == 200
    assert_spec(r.json(), "UssAvailabilityStatusResponse")
    assert r.json() == {"status": {"uss": "uss9", "availability": "Unknown"}, "version": ""}

    r = client.put(
        "/dss/v1/uss_availability/uss9",
        json={"old_version": "", "availability": "Down"},
        headers=auth(AA, sub="arbiter"),
    )
    assert r.status_code == 200, r.text
    assert_spec(r.json(), "UssAvailabilityStatusResponse")
    version = r.json()["version"]
    assert r.json()["status"] == {"uss": "uss9", "availability": "Down"} and version

    for scope in (AA, SC, CMSA):
        r = client.get("/dss/v1/uss_availability/uss9", headers=auth(scope))
        assert r.json() == {"status": {"uss": "uss9", "availability": "Down"}, "version": version}

    r = client.put(
        "/dss/v1/uss_availability/uss9",
        json={"old_version": "stale", "availability": "Normal"},
        headers=auth(AA, sub="arbiter"),
    )
    assert r.status_code in (400, 409)
    r = client.put(
        "/dss/v1/uss_availability/uss9",
        json={"old_version": version, "availability": "Normal"},
        headers=auth(AA, sub="arbiter"),
    )
    assert r.status_code == 200
    assert r.json()["status"]["availability"] == "Normal" and r.json()["version"] != version


def test_availability_bad_body_is_400(client: TestClient, auth: Auth) -> None:
    r = client.put(
        "/dss/v1/uss_availability/uss9",
        json={"old_version": "", "availability": "Sleeping"},
        headers=auth(AA),
    )
    assert r.status_code == 400
    assert "availability" in r.json()["message"]
    r = client.put("/dss/v1/uss_availability/uss9", json={"availability": "Down"}, headers=auth(AA))
    assert r.status_code == 400
    assert "old_version" in r.json()["message"]


def test_report_is_archived_with_an_id(client: TestClient, auth: Auth, assert_spec: Spec) -> None:
    ids = set()
    for scope in (SC, CMSA, CM, CP, AA):
        r = client.post("/dss/v1/reports", json=REPORT, headers=auth(scope))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["report_id"] and len(body["report_id"]) <= 128
        assert body["exchange"]["problem"] == "peer answered 500"
        assert body["exchange"]["response_code"] == 500
        ids.add(body["report_id"])
    assert len(ids) == 5


def test_report_without_exchange_is_400(client: TestClient, auth: Auth) -> None:
    r = client.post("/dss/v1/reports", json={"report_id": "x"}, headers=auth(SC))
    assert r.status_code == 400
    assert "exchange" in r.json()["message"]


def test_version_and_health_need_no_token(client: TestClient) -> None:
    r = client.get("/aux/v1/version")
    assert r.status_code == 200 and r.json() == {"version": sharedsky.__version__}
    r = client.get("/healthy")
    assert r.status_code == 200 and r.text == "ok"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    ops = {
        op["operationId"]: (method, path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    for name in (
        "queryOperationalIntentReferences",
        "getOperationalIntentReference",
        "createOperationalIntentReference",
        "updateOperationalIntentReference",
        "deleteOperationalIntentReference",
        "queryConstraintReferences",
        "getConstraintReference",
        "createConstraintReference",
        "updateConstraintReference",
        "deleteConstraintReference",
        "querySubscriptions",
        "getSubscription",
        "createSubscription",
        "updateSubscription",
        "deleteSubscription",
        "makeDssReport",
        "setUssAvailability",
        "getUssAvailability",
    ):
        assert name in ops, name
    create = doc["paths"]["/dss/v1/operational_intent_references/{entityid}"]["put"]
    assert "201" in create["responses"] and "200" not in create["responses"]
    assert create["security"] == [
        {"Authority": ["utm.strategic_coordination"]},
        {"Authority": ["utm.constraint_processing", "utm.strategic_coordination"]},
        {"Authority": ["utm.conformance_monitoring_sa"]},
    ]
    assert client.get("/docs").status_code == 200


def test_openapi_documents_the_answers_actually_given(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operations = [op for item in doc["paths"].values() for op in item.values()]
    # Invalid requests get 400 with an ErrorResponse, never FastAPI's 422 "Validation Error".
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for op in operations:
        assert op["responses"].get("422", {}).get("description") != "Validation Error"
    # A wrong old_version gets 409 (F3548-21; utm.yaml's list lacks it).
    set_availability = doc["paths"]["/dss/v1/uss_availability/{uss_id}"]["put"]
    assert "409" in set_availability["responses"]
    # Every endpoint but the unauthenticated two names the scope it needs.
    scopes = doc["components"]["securitySchemes"]["Authority"]["flows"]["clientCredentials"]
    for op in operations:
        if op["operationId"] in ("getVersion", "healthy"):
            continue
        assert op["security"], op["operationId"]
        for requirement in op["security"]:
            assert set(requirement["Authority"]) <= set(scopes["scopes"]), op["operationId"]
        assert {"401", "403"} <= set(op["responses"]), op["operationId"]
