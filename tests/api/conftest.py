"""Fixtures of the HTTP tests.

* ``private_key_pem`` / ``public_key_path``: the F3548 *test* key pair from the shared spec folder.
* ``foreign_private_key_pem``: an RSA key the server does not know (bad signatures).
* ``token``: mints RS256 tokens, ``token(scopes, sub="uss1", audience="localhost", ...)``.
* ``auth``: ``auth(*scopes, sub="uss1")`` -> headers with a valid bearer token.
* ``settings`` / ``app`` / ``client``: a fresh app per test over ``db_url`` (SQLite and
  PostgreSQL), run through ``TestClient`` with its lifespan.
* ``spec`` / ``assert_spec``: response bodies checked against the components of utm.yaml, with
  unknown properties forbidden so that field-name drift fails.
* ``volume``: a Volume4D in wire form around a point, starting now.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jsonschema import Draft4Validator

from sharedsky.api import create_app
from sharedsky.config import Settings
from sharedsky.testing import box_volume, mint_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"


@pytest.fixture(scope="session")
def private_key_pem(shared_dir: Path) -> bytes:
    return (shared_dir / "spec" / "test-certs" / "auth2.key").read_bytes()


@pytest.fixture(scope="session")
def public_key_path(shared_dir: Path) -> Path:
    return shared_dir / "spec" / "test-certs" / "auth2.pem"


@pytest.fixture(scope="session")
def foreign_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


TokenFactory = Callable[..., str]


@pytest.fixture(scope="session")
def token(private_key_pem: bytes) -> TokenFactory:
    def make(
        scopes: tuple[str, ...] | list[str] = (SC,),
        *,
        sub: str = "uss1",
        audience: str = "localhost",
        expires_in: float = 3600.0,
        key: bytes | None = None,
        now: datetime | None = None,
    ) -> str:
        return mint_token(
            key or private_key_pem,
            sub=sub,
            scopes=scopes,
            audience=audience,
            expires_in=expires_in,
            now=now,
        )

    return make


@pytest.fixture(scope="session")
def auth(token: TokenFactory) -> Callable[..., dict[str, str]]:
    def headers(*scopes: str, sub: str = "uss1") -> dict[str, str]:
        return {"Authorization": f"Bearer {token(scopes or (SC,), sub=sub)}"}

    return headers


@pytest.fixture
def settings(db_url: str, public_key_path: Path) -> Settings:
    return Settings(db_url=db_url, public_key_pems=(public_key_path,))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def volume() -> Callable[..., dict[str, Any]]:
    def make(
        lat: float = 46.5,
        lng: float = 7.5,
        half_size_deg: float = 0.005,
        start_in: timedelta = timedelta(minutes=1),
        duration: timedelta = timedelta(minutes=30),
        lower: float = 0.0,
        upper: float = 120.0,
    ) -> dict[str, Any]:
        start = datetime.now(UTC) + start_in
        return box_volume(lat, lng, half_size_deg, start, start + duration, lower, upper)

    return make


def _forbid_unknown(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _forbid_unknown(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_forbid_unknown(v) for v in node]
    return node


@pytest.fixture(scope="session")
def spec(shared_dir: Path) -> dict[str, Any]:
    with open(shared_dir / "spec" / "f3548-utm.yaml") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@pytest.fixture(scope="session")
def assert_spec(spec: dict[str, Any]) -> Callable[[Any, str], None]:
    """``assert_spec(body, "SchemaName")`` fails listing every deviation from utm.yaml."""
    components = _forbid_unknown(copy.deepcopy(spec["components"]))

    def check(body: Any, schema_name: str) -> None:
        assert schema_name in components["schemas"], schema_name
        validator = Draft4Validator(
            {"$ref": f"#/components/schemas/{schema_name}", "components": components},
            format_checker=Draft4Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, "\n".join(
            f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors
        )

    return check
