"""Public test utilities: tokens, a real server in a subprocess, and an F3548 client loop.

Used by sharedsky's own test suite and benchmarks, and meant for anyone testing a USS against
sharedsky. Production code never imports this module.

* :func:`mint_token` signs an RS256 access token the way F3548 clients present them.
* :class:`ServerProcess` runs ``sharedsky serve`` as a real subprocess on a free loopback port.
* :class:`DssClient` speaks the DSS wire format and implements the client side of the OVN key
  mechanism: query, build the key, put, and on 409 add the missing OVNs and retry.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = [
    "ALL_SCOPES",
    "DssClient",
    "PutOutcome",
    "ServerProcess",
    "box_volume",
    "free_port",
    "mint_token",
    "rfc3339",
]

ALL_SCOPES: tuple[str, ...] = (
    "utm.strategic_coordination",
    "utm.conformance_monitoring_sa",
    "utm.constraint_management",
    "utm.constraint_processing",
    "utm.availability_arbitration",
)


def mint_token(
    private_key_pem: bytes,
    *,
    sub: str,
    scopes: Iterable[str],
    audience: str = "localhost",
    expires_in: float = 3600.0,
    issuer: str = "sharedsky-test",
    now: datetime | None = None,
) -> str:
    """Sign an RS256 access token with the claims F3548 clients send (sub, scope, aud, exp...)."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": sub,
        "client_id": sub,
        "scope": " ".join(scopes),
        "aud": audience,
        "iss": issuer,
        "nbf": int(issued.timestamp()) - 1,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=expires_in)).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, _signing_key(private_key_pem), algorithm="RS256")


@functools.lru_cache(maxsize=8)
def _signing_key(private_key_pem: bytes) -> Any:
    """The private key of a PEM, loaded once: loading checks the RSA key, which costs ~60 ms,
    thirty times the signature itself."""
    return load_pem_private_key(private_key_pem, password=None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rfc3339(value: datetime) -> str:
    """UTC time in the F3548 wire form (RFC 3339 with ``Z``)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def box_volume(
    lat: float,
    lng: float,
    half_size_deg: float,
    time_start: datetime,
    time_end: datetime,
    altitude_lower_m: float = 0.0,
    altitude_upper_m: float = 120.0,
) -> dict[str, Any]:
    """A Volume4D in wire form: a square footprint centred on (lat, lng)."""
    d = half_size_deg
    vertices = [
        {"lat": lat - d, "lng": lng - d},
        {"lat": lat - d, "lng": lng + d},
        {"lat": lat + d, "lng": lng + d},
        {"lat": lat + d, "lng": lng - d},
    ]
    return {
        "volume": {
            "outline_polygon": {"vertices": vertices},
            "altitude_lower": {"value": altitude_lower_m, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": altitude_upper_m, "reference": "W84", "units": "M"},
        },
        "time_start": {"value": rfc3339(time_start), "format": "RFC3339"},
        "time_end": {"value": rfc3339(time_end), "format": "RFC3339"},
    }


class ServerProcess:
    """``sharedsky serve`` in a subprocess, on loopback, stopped on exit of the ``with`` block.

    The output of the server goes to ``log_path`` (a temporary file by default) so a failing test
    can show it.
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
    ) -> None:
        self.db_url = db_url
        self.public_keys = list(public_keys)
        self.port = port or free_port()
        self.audiences = list(audiences)
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

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
        env = {**os.environ, **(self.env or {})}
        self._process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sharedsky serve exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthy", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"sharedsky serve did not become healthy:\n{self.output()}")

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


@dataclass
class PutOutcome:
    """What one client-side planning loop ended with."""

    status: int
    body: dict[str, Any]
    attempts: int
    key: list[str] = field(default_factory=list)
    request_started: float = 0.0
    acknowledged: float = 0.0


OvnLookup = Callable[[dict[str, Any]], str | None]
"""Given an operational intent reference (as the DSS returned it, OVN possibly hidden), the OVN
that its managing USS would serve, or None when it cannot be had (then it stays missing)."""


class DssClient:
    """A synchronous F3548 DSS client for one USS (one ``sub``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        uss_base_url: str = "https://uss.example.com",
        timeout_s: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.uss_base_url = uss_base_url
        self.http = http or httpx.Client(timeout=timeout_s)
        self.headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.http.close()

    def query_operational_intents(self, area: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.http.post(
            f"{self.base_url}/dss/v1/operational_intent_references/query",
            json={"area_of_interest": area},
            headers=self.headers,
        )
        r.raise_for_status()
        return list(r.json()["operational_intent_references"])

    def put_operational_intent(
        self,
        entity_id: str,
        ovn: str | None,
        extents: list[dict[str, Any]],
        key: list[str],
        *,
        state: str = "Accepted",
        subscription_id: str | None = None,
    ) -> httpx.Response:
        path = f"{self.base_url}/dss/v1/operational_intent_references/{entity_id}"
        if ovn is not None:
            path += f"/{ovn}"
        body: dict[str, Any] = {
            "extents": extents,
            "key": key,
            "state": state,
            "uss_base_url": self.uss_base_url,
        }
        if subscription_id is not None:
            body["subscription_id"] = subscription_id
        return self.http.put(path, json=body, headers=self.headers)

    def delete_operational_intent(self, entity_id: str, ovn: str) -> httpx.Response:
        return self.http.delete(
            f"{self.base_url}/dss/v1/operational_intent_references/{entity_id}/{ovn}",
            headers=self.headers,
        )

    def plan(
        self,
        entity_id: str,
        ovn: str | None,
        extents: list[dict[str, Any]],
        ovn_lookup: OvnLookup,
        *,
        area: dict[str, Any] | None = None,
        state: str = "Accepted",
        max_attempts: int = 10,
    ) -> PutOutcome:
        """The full client loop: query the area, build the key, put; on 409 add the missing
        OVNs (from ``ovn_lookup``, i.e. from their managing USSs) and retry.
        """
        started = time.monotonic()
        refs = self.query_operational_intents(area or extents[0])
        key = _key_from(refs, ovn_lookup, exclude=entity_id)
        attempts = 0
        while True:
            attempts += 1
            r = self.put_operational_intent(entity_id, ovn, extents, sorted(key), state=state)
            body = r.json() if r.content else {}
            if r.status_code != 409 or attempts >= max_attempts:
                return PutOutcome(
                    r.status_code, body, attempts, sorted(key), started, time.monotonic()
                )
            missing = body.get("missing_operational_intents") or []
            key |= _key_from(missing, ovn_lookup, exclude=entity_id)


def _key_from(refs: Iterable[dict[str, Any]], lookup: OvnLookup, exclude: str) -> set[str]:
    key: set[str] = set()
    for ref in refs:
        if ref.get("id") == exclude:
            continue
        ovn = lookup(ref)
        if ovn:
            key.add(ovn)
    return key
