"""TokenVerifier and scope groups, without a server: every way a token can be refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from sharedsky.api.auth import (
    CM,
    CP,
    SC,
    TokenClaims,
    TokenVerifier,
    check_scopes,
    load_public_keys,
)
from sharedsky.errors import InvalidInput, PermissionDenied, Unauthenticated


@pytest.fixture(scope="module")
def verifier(public_key_path: Path) -> TokenVerifier:
    return TokenVerifier(load_public_keys([public_key_path]), ["localhost", "127.0.0.1"])


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "uss1",
        "iss": "test-issuer",
        "aud": "localhost",
        "scope": "utm.strategic_coordination utm.constraint_processing",
        "exp": now + 3000,
        "nbf": now - 1,
        "jti": "abc",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def test_valid_token_gives_sub_iss_and_scopes(
    verifier: TokenVerifier, token: Callable[..., str]
) -> None:
    claims = verifier.verify_header(f"Bearer {token([SC, CP], sub='uss7')}")
    assert claims == TokenClaims(sub="uss7", iss="sharedsky-test", scopes=frozenset({SC, CP}))


def test_audience_127_0_0_1_is_accepted(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    assert verifier.verify(token([SC], audience="127.0.0.1")).sub == "uss1"


def test_scheme_is_case_insensitive(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    assert verifier.verify_header(f"bearer {token([SC])}").sub == "uss1"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "tok"])
def test_missing_or_malformed_header(verifier: TokenVerifier, header: str | None) -> None:
    with pytest.raises(Unauthenticated, match="Authorization"):
        verifier.verify_header(header)


def test_garbage_token(verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthenticated, match="malformed"):
        verifier.verify("not.a.jwt")


def test_foreign_signature(
    verifier: TokenVerifier, token: Callable[..., str], foreign_private_key_pem: bytes
) -> None:
    with pytest.raises(Unauthenticated, match="signature"):
        verifier.verify(token([SC], key=foreign_private_key_pem))


def test_expired(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token([SC], now=old))


def test_wrong_audience(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    with pytest.raises(Unauthenticated, match="audience"):
        verifier.verify(token([SC], audience="dss.example.com"))


def test_exp_more_than_one_hour_ahead(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    with pytest.raises(Unauthenticated, match="one hour"):
        verifier.verify(token([SC], expires_in=7200))


def test_exp_at_one_hour_is_fine(verifier: TokenVerifier, token: Callable[..., str]) -> None:
    assert verifier.verify(token([SC], expires_in=3600)).sub == "uss1"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"exp": None}, "exp"),
        ({"sub": None}, "sub"),
        ({"iss": None}, "iss"),
        ({"sub": ""}, "sub"),
        ({"iss": "  "}, "iss"),
        ({"aud": None}, "aud"),
        ({"scope": 5}, "scope"),
        ({"nbf": int(time.time()) + 3600}, "nbf"),
    ],
)
def test_bad_claims(
    verifier: TokenVerifier, private_key_pem: bytes, changes: dict[str, object], match: str
) -> None:
    tok = jwt.encode(_claims(**changes), private_key_pem, algorithm="RS256")
    with pytest.raises(Unauthenticated, match=match):
        verifier.verify(tok)


def test_missing_scope_claim_means_no_scopes(
    verifier: TokenVerifier, private_key_pem: bytes
) -> None:
    tok = jwt.encode(_claims(scope=None), private_key_pem, algorithm="RS256")
    assert verifier.verify(tok).scopes == frozenset()


def test_symmetric_algorithm_is_refused(verifier: TokenVerifier) -> None:
    tok = jwt.encode(_claims(), "a-shared-secret-of-sufficient-length!!", algorithm="HS256")
    with pytest.raises(Unauthenticated, match="RS256"):
        verifier.verify(tok)


def test_unsigned_token_is_refused(verifier: TokenVerifier) -> None:
    tok = jwt.encode(_claims(), None, algorithm="none")
    with pytest.raises(Unauthenticated):
        verifier.verify(tok)


def test_no_keys_refuses_everything(token: Callable[..., str]) -> None:
    with pytest.raises(Unauthenticated, match="no public key"):
        TokenVerifier((), ["localhost"]).verify(token([SC]))


def test_any_configured_key_may_verify(
    public_key_path: Path, foreign_private_key_pem: bytes, token: Callable[..., str]
) -> None:
    foreign_public = serialization.load_pem_private_key(foreign_private_key_pem, None).public_key()
    keys = (foreign_public, *load_public_keys([public_key_path]))
    v = TokenVerifier(keys, ["localhost"])  # type: ignore[arg-type]
    assert v.verify(token([SC])).sub == "uss1"
    assert v.verify(token([SC], key=foreign_private_key_pem)).sub == "uss1"


def test_scope_groups() -> None:
    claims = TokenClaims(sub="u", iss="i", scopes=frozenset({SC, CP}))
    check_scopes(claims, (frozenset({CM}), frozenset({SC, CP})))
    check_scopes(claims, (frozenset({SC}),))
    with pytest.raises(PermissionDenied, match=r"utm\.constraint_management"):
        check_scopes(claims, (frozenset({CM}),))
    with pytest.raises(PermissionDenied):
        check_scopes(TokenClaims("u", "i", frozenset({SC})), (frozenset({SC, CP}),))


def test_load_public_keys_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidInput, match=r"missing\.pem"):
        load_public_keys([missing])
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(InvalidInput, match=r"junk\.pem"):
        load_public_keys([junk])
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(InvalidInput, match="RSA"):
        load_public_keys([ec_pem])


def test_load_public_keys_accepts_a_certificate(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (loaded,) = load_public_keys([path])
    assert loaded.public_numbers() == key.public_key().public_numbers()


def test_a_remembered_token_still_expires(public_key_path: Path, token: Callable[..., str]) -> None:
    now = [time.time()]
    v = TokenVerifier(load_public_keys([public_key_path]), ["localhost"], clock=lambda: now[0])
    tok = token([SC], expires_in=120)
    assert v.verify(tok).sub == "uss1"
    assert v.verify(tok).sub == "uss1"  # from the cache
    now[0] += 120 + 61  # past exp plus the leeway
    with pytest.raises(Unauthenticated, match="expired"):
        v.verify(tok)
    with pytest.raises(Unauthenticated, match="expired"):
        v.verify(tok)  # and not remembered as valid again
