"""Fixtures of the live HTTP tests: an app with a fake clock and no background loop (tests run
the detection cycles), a live configuration file, and token headers per party."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from sharedsky.api import create_app
from sharedsky.config import Settings
from tests.api.live.live_api_helpers import READ, WRITE, Clock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def live_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "live.json"
    path.write_text(
        json.dumps(
            {
                "silence_after_s": 600,
                "visibility_m": 50000,
                "lines": [
                    {
                        "id": "ab-border",
                        "kind": "border",
                        "parties": ["alpha", "bravo"],
                        "points": [[30.0, 60.0], [31.0, 60.0]],
                    }
                ],
                "parties": {"alpha": {"links": {}}, "bravo": {"links": {}}},
            }
        )
    )
    return path


@pytest.fixture
def now() -> float:
    return float(int(time.time()))


@pytest.fixture
def live_app(sqlite_url: str, public_key_path: Path, live_config_file: Path, now: float) -> FastAPI:
    settings = Settings(
        db_url=sqlite_url, public_key_pems=(public_key_path,), live_config=live_config_file
    )
    app = create_app(settings)
    app.state.live_clock = Clock(now)
    app.state.live_loop = False
    return app


@pytest.fixture
def lc(live_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(live_app, base_url="http://localhost", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def hdr(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(party: str, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(scopes or (WRITE, READ), sub=party)}"}

    return headers
