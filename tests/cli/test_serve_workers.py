"""``sharedsky serve --workers N``: several processes on one port, same settings, one database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sharedsky.testing import ServerProcess, box_volume, mint_token

SC = "utm.strategic_coordination"


@pytest.mark.slow
def test_workers_share_the_port_settings_and_database(sqlite_url: str, shared_dir: Path) -> None:
    certs = shared_dir / "spec" / "test-certs"
    token = mint_token((certs / "auth2.key").read_bytes(), sub="uss1", scopes=[SC])
    headers = {"Authorization": f"Bearer {token}"}
    start = datetime.now(UTC) + timedelta(minutes=1)
    area = box_volume(46.5, 7.5, 0.005, start, start + timedelta(minutes=20))
    body = {"extents": [area], "key": [], "state": "Accepted", "uss_base_url": "https://u.example"}
    server = ServerProcess(sqlite_url, [certs / "auth2.pem"], extra_args=["--workers", "2"])
    with server:
        base = f"{server.url}/dss/v1/operational_intent_references"
        first = str(uuid.uuid4())
        assert httpx.put(f"{base}/{first}", json=body, headers=headers).status_code == 201
        # New connections (spread over the workers by the kernel) all see the same database
        # and enforce the key, and all have the public key (a token is needed).
        for _ in range(6):
            r = httpx.put(f"{base}/{uuid.uuid4()}", json=body, headers=headers)
            assert r.status_code == 409, r.text
            assert [o["id"] for o in r.json()["missing_operational_intents"]] == [first]
            q = httpx.post(f"{base}/query", json={"area_of_interest": area}, headers=headers)
            assert [o["id"] for o in q.json()["operational_intent_references"]] == [first]
            assert httpx.get(f"{base}/{first}").status_code == 401
    assert "Traceback" not in server.output()
