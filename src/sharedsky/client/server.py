"""``sharedsky serve`` as a real subprocess on loopback: for the demo, tests and benchmarks.

:class:`ServerProcess` starts it on a free port (:func:`free_port`), waits until it answers
``/healthy``, and stops it (SIGTERM, then SIGKILL after 15 s) on leaving the ``with`` block.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from sharedsky.client.errors import ServerStartFailed

__all__ = ["ServerProcess", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``sharedsky serve`` in a subprocess, on loopback, stopped on exit of the ``with`` block.

    The output of the server goes to ``log_path`` (a temporary file by default) so a failing test
    can show it. The server inherits this process's environment plus ``env``; with
    ``inherit_settings=False`` it gets none of the ``SHAREDSKY_*`` variables (it then runs on its
    defaults and the arguments given here). ``url`` names the server by ``url_host``;
    ``own_session`` starts it in its own session, so that a Ctrl-C in the terminal reaches only
    this process, which then stops the server itself. A server that exits or is not healthy
    within ``startup_timeout_s`` raises :class:`~sharedsky.client.ServerStartFailed`.
    """

    def __init__(
        self,
        db_url: str,
        public_keys: Sequence[Path],
        *,
        port: int | None = None,
        audiences: Sequence[str] = ("localhost", "127.0.0.1"),
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        startup_timeout_s: float = 60.0,
        env: Mapping[str, str] | None = None,
        inherit_settings: bool = True,
        url_host: str = "localhost",
        own_session: bool = False,
    ) -> None:
        self.db_url = db_url
        self.public_keys = list(public_keys)
        self.port = port or free_port()
        self.audiences = list(audiences)
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.env = dict(env) if env is not None else None
        self.inherit_settings = inherit_settings
        self.url_host = url_host
        self.own_session = own_session
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "sharedsky.cli", "serve", "--db", self.db_url]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        for key in self.public_keys:
            cmd += ["--public-key", str(key)]
        for aud in self.audiences:
            cmd += ["--audience", aud]
        return cmd + self.extra_args

    def start(self) -> ServerProcess:
        if self.log_path is None:
            import tempfile

            fd, name = tempfile.mkstemp(prefix="sharedsky-serve-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        inherited = {
            k: v
            for k, v in os.environ.items()
            if self.inherit_settings or not k.startswith("SHAREDSKY_")
        }
        self._process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**inherited, **(self.env or {})},
            start_new_session=self.own_session,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                output = self.output()
                raise ServerStartFailed(
                    f"sharedsky serve exited early:\n{output}", output=output, exited=True
                )
            try:
                if httpx.get(f"{self.url}/healthy", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        output = self.output()
        raise ServerStartFailed(
            f"sharedsky serve did not become healthy:\n{output}", output=output, exited=False
        )

    def output(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-20000:]

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
