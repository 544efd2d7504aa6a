"""The scope each live endpoint documents in the OpenAPI is the one it checks."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.live.live_api_helpers import READ, WRITE

Hdr = Callable[..., dict[str, str]]


def test_documented_scope_is_the_one_checked(lc: TestClient, hdr: Hdr) -> None:
    doc = lc.get("/openapi.json").json()
    checked = 0
    for template, item in doc["paths"].items():
        if not template.startswith("/live/v1/"):
            continue
        path = template.replace("{track_id}", "t1").replace("{alert_id}", "a1")
        path = path.replace("{name}", "alpha")
        for method, operation in item.items():
            (requirement,) = operation["security"]
            (scope,) = requirement["Authority"]
            assert scope in (READ, WRITE), operation["operationId"]
            other = WRITE if scope == READ else READ
            body = {"plan_id": "p1"} if method == "put" else None
            without = lc.request(method, path, headers=hdr("alpha", other), json=body)
            assert without.status_code == 403, (method, path, without.text)
            assert scope in without.json()["message"]
            if path.endswith("/stream"):  # with the scope, an endless stream
                continue
            with_it = lc.request(method, path, headers=hdr("alpha", scope), json=body)
            assert with_it.status_code not in (401, 403), (method, path, with_it.text)
            assert str(with_it.status_code) in operation["responses"], (method, path)
            checked += 1
    assert checked >= 9
