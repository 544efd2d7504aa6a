"""``sharedsky replay``, ``watch`` and ``demo`` against a real server on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from sharedsky.cli import _register, app
from sharedsky.client import LiveClient, TokenSource
from sharedsky.demo import PARTIES, excerpt_path, party_of_callsign, split_by_party
from sharedsky.feeds.tables import read_table
from sharedsky.model.tracks import TrackBatch
from sharedsky.testing import ServerProcess, mint_token

_register()
runner = CliRunner()
READ = "sharedsky.picture.read"


@pytest.fixture(scope="module")
def certs(shared_dir: Path) -> Path:
    return shared_dir / "spec" / "test-certs"


@pytest.fixture(scope="module")
def server(certs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("live") / "live.sqlite"
    with ServerProcess(f"sqlite:///{db}", [certs / "auth2.pem"]) as proc:
        yield proc


def _picture(server: ServerProcess, certs: Path, party: str) -> dict:
    token = mint_token((certs / "auth2.key").read_bytes(), sub=party, scopes=[READ])
    r = httpx.get(
        f"{server.url}/live/v1/picture", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()


def _recording(path: Path, ids: tuple[str, ...], n_s: int = 6) -> pd.DataFrame:
    rows = [
        {
            "timestamp": 1_633_609_320 + k,
            "icao24": icao,
            "callsign": f"T{icao}",
            "latitude": 48.0 + 0.5 * j + 0.001 * k,
            "longitude": 2.0,
            "altitude": 20000,
            "groundspeed": 250,
            "track": 0,
            "vertical_rate": 0,
        }
        for k in range(n_s)
        for j, icao in enumerate(ids)
    ]
    df = pd.DataFrame(rows).astype(object)
    df.loc[2, "altitude"] = "FL200"  # data row 3: not a number
    df.to_csv(path, index=False)
    return df


@pytest.mark.slow
@pytest.mark.parametrize("via", ["http", "ws"])
def test_replay_pushes_a_recording_to_a_real_server(
    server: ServerProcess, certs: Path, tmp_path: Path, via: str
) -> None:
    party = f"replay-{via}"
    ids = (f"{via}01", f"{via}02")
    _recording(tmp_path / "rec.csv", ids)
    if via == "http":  # sign a token here with the key
        credentials = ["--party", party, "--key", str(certs / "auth2.key")]
    else:  # a token from a file (its sub is the party)
        token = mint_token(
            (certs / "auth2.key").read_bytes(), sub=party, scopes=[READ, "sharedsky.tracks.write"]
        )
        (tmp_path / "token").write_text(token + "\n")
        credentials = ["--token-file", str(tmp_path / "token")]
    result = runner.invoke(
        app,
        [
            "replay",
            str(tmp_path / "rec.csv"),
            *credentials,
            "--server",
            server.url,
            "--speed",
            "20",
            "--via",
            via,
            "--rejects",
            str(tmp_path / "rejects.jsonl"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "sent 11 accepted states of 2 tracks" in out
    assert "1 rows rejected in the file" in out and "row 3: altitude: not a number" in out
    assert '"index":3' in (tmp_path / "rejects.jsonl").read_text()
    pic = _picture(server, certs, party)
    assert sorted(t["track_id"] for t in pic["tracks"] if t["own"]) == sorted(ids)
    # states were stamped with the replay time: fresh on the server, not five years old
    assert all(t["age_s"] < 30 for t in pic["tracks"] if t["own"])


@pytest.mark.slow
def test_replay_with_an_untrusted_key_fails_in_one_line(
    server: ServerProcess, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    _recording(tmp_path / "rec.csv", ("bad001",), n_s=2)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "sharedsky.cli", "replay", str(tmp_path / "rec.csv")),
            *("--party", "x", "--server", server.url, "--key", str(tmp_path / "k.pem")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "refused the token" in proc.stderr and "Traceback" not in proc.stderr


def test_credentials_are_checked_before_connecting(tmp_path: Path) -> None:
    _recording(tmp_path / "rec.csv", ("abc123",), n_s=2)
    base = ["replay", str(tmp_path / "rec.csv"), "--server", "http://127.0.0.1:9"]
    r = runner.invoke(app, base)
    assert r.exit_code != 0 and "--token-file/--key" in str(r.exception)
    (tmp_path / "not-a-key").write_text("hello")
    r = runner.invoke(app, [*base, "--party", "p", "--key", str(tmp_path / "not-a-key")])
    assert "not a PEM private key" in str(r.exception)


@pytest.mark.slow
def test_watch_renders_a_partys_alerts_and_track_counts(server: ServerProcess, certs: Path) -> None:
    key = (certs / "auth2.key").read_bytes()
    now = time.time()
    # Two aircraft of two parties, 3 NM apart at the same level, flying head-on: a WARNING.
    for party, icao, lat, trk in (("wa", "aaa001", 47.0, 0.0), ("wb", "bbb001", 47.05, 180.0)):
        tokens = TokenSource(party=party, private_key_pem=key, audience="localhost")
        with LiveClient(server.url, tokens) as client:
            for dt in (-1.0, 0.0):
                batch = TrackBatch.from_arrays(
                    [icao], [now + dt], [lat], [5.0], [6000.0], [200.0], [trk], [0.0]
                )
                assert client.push(batch).accepted == 1
    result = runner.invoke(
        app,
        [
            *("watch", "--server", server.url, "--party", "wa"),
            *("--key", str(certs / "auth2.key"), "--for", "4"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "wa @ " in out and "own 1, others visible 1" in out
    assert "active alerts" in out and "WARNING" in out
    assert "aaa001/wa" in out and "bbb001/wb" in out


def test_demo_excerpt_and_party_rule() -> None:
    path = excerpt_path()
    assert path.stat().st_size < 1_000_000
    assert (path.parent / "PROVENANCE.md").read_text().count("OpenSky") >= 1
    assert not list(path.parent.glob("*.pem")) and not list(path.parent.glob("*key*"))
    assert [party_of_callsign(c) for c in ("AFR16NN", "EJU875P", "tvf12", "MSR799", None)] == [
        "alpha",
        "bravo",
        "bravo",
        "charlie",
        "charlie",
    ]
    frame = read_table(path)
    parts = split_by_party(frame)
    assert sum(len(p) for p in parts.values()) == len(frame)
    ids = [set(parts[p]["icao24"]) for p in PARTIES]
    assert all(ids) and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


@pytest.mark.slow
def test_demo_for_runs_end_to_end_and_reports_alerts() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sharedsky.cli", "demo", "--for", "25", "--speed", "4"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "COLUMNS": "200"},
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = re.search(r"(\d+) tracks; (\d+) alerts \(WARNING (\d+), CAUTION (\d+)", out)
    assert summary, out
    tracks, alerts, warnings, cautions = map(int, summary.groups())
    assert tracks >= 20 and alerts >= 3 and warnings + cautions >= 2
    for party in PARTIES:
        assert re.search(rf"^\s*{party}\W+\d+", out, re.M), out
    same = re.search(r"(\d+) of (\d+) transitions received by every party involved", out)
    assert same and same.group(1) == same.group(2) and int(same.group(2)) > 0
    # the temporary folder (database, generated key pair) is gone
    folder = re.search(r"data in (\S+)\)", out)
    assert folder and not Path(folder.group(1)).exists()
    lines = [ln for ln in out.splitlines() if re.match(r"\d\d:\d\d:\d\d (WARNING|CAUTION)", ln)]
    assert lines, out
