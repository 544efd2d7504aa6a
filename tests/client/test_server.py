"""``ServerProcess`` against a real ``sharedsky serve``: a failed start names itself and shows
the log; a server can be started without this process's ``SHAREDSKY_*`` settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sharedsky.client import ServerProcess, ServerStartFailed


@pytest.mark.slow
def test_a_failed_start_shows_the_log_and_settings_can_be_left_behind(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public_key = shared_dir / "spec" / "test-certs" / "auth2.pem"
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monkeypatch.setenv("SHAREDSKY_LIVE_CONFIG", str(tmp_path / "missing-live.json"))
    with pytest.raises(ServerStartFailed) as failed:
        ServerProcess(db, [public_key], startup_timeout_s=120).start()
    assert failed.value.exited and isinstance(failed.value, RuntimeError)
    assert "missing-live.json" in failed.value.output
    with ServerProcess(
        db, [public_key], inherit_settings=False, url_host="127.0.0.1", startup_timeout_s=120
    ) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.url}/healthy", timeout=10).status_code == 200
