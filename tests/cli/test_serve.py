"""``sharedsky serve`` as a real subprocess: startup, one authenticated round trip, clean errors."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sharedsky.testing import ServerProcess, box_volume, mint_token

SC = "utm.strategic_coordination"


@pytest.mark.slow
def test_serve_round_trip(db_url: str, shared_dir: Path) -> None:
    certs = shared_dir / "spec" / "test-certs"
    token = mint_token((certs / "auth2.key").read_bytes(), sub="uss1", scopes=[SC])
    headers = {"Authorization": f"Bearer {token}"}
    start = datetime.now(UTC) + timedelta(minutes=1)
    body = {
        "extents": [box_volume(46.5, 7.5, 0.005, start, start + timedelta(minutes=20))],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example.com",
    }
    with ServerProcess(db_url, [certs / "auth2.pem"]) as server:
        assert httpx.get(f"{server.url}/healthy").text == "ok"
        eid = str(uuid.uuid4())
        url = f"{server.url}/dss/v1/operational_intent_references/{eid}"
        r = httpx.put(url, json=body, headers=headers)
        assert r.status_code == 201, r.text
        ovn = r.json()["operational_intent_reference"]["ovn"]
        r = httpx.get(url, headers=headers)
        assert r.status_code == 200
        assert r.json()["operational_intent_reference"]["ovn"] == ovn
        assert httpx.get(url).status_code == 401
        assert httpx.get(f"{server.url}/openapi.json").status_code == 200
    assert "Traceback" not in server.output()


def _serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharedsky.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--db", "nosuchdb://x/y"], "db"),
        (["--db", "not a url"], "db"),
        (["--public-key", "/nonexistent/key.pem"], "key.pem"),
        (["--port", "99999"], "port"),
    ],
)
def test_bad_options_give_one_clear_line(
    args: list[str], needle: str, tmp_path: Path, shared_dir: Path
) -> None:
    full = list(args)
    if "--db" not in full:
        full += ["--db", f"sqlite:///{tmp_path / 'x.sqlite'}"]
    result = _serve(*full, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert needle in result.stderr


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = _serve(
        "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--public-key", str(bad), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "bad.pem" in result.stderr and "PEM" in result.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = _serve("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--db", "--host", "--port", "--public-key", "--audience"):
        assert option in result.stdout


def test_a_bad_live_configuration_is_refused_before_serving(tmp_path: Path) -> None:
    config = tmp_path / "live.json"
    config.write_text('{"lookahead_s": "soon"}')
    done = _serve("--live-config", str(config), "--port", "0", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: lookahead_s: must be a finite number, got 'soon'"
    ]
    assert "Traceback" not in done.stderr
