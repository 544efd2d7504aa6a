"""Tokens signed by the client are the ones the server accepts, with the claims it reads."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from sharedsky.api.auth import TokenVerifier, load_public_keys
from sharedsky.client import TokenSource, mint_token, write_key_pair
from sharedsky.errors import InvalidInput
from sharedsky.model.scopes import LIVE_SCOPES, SCOPE_STRATEGIC_COORDINATION


@pytest.fixture(scope="module")
def certs(shared_dir: Path) -> Path:
    return shared_dir / "spec" / "test-certs"


def test_a_signed_token_source_carries_the_live_scopes_for_its_party(certs: Path) -> None:
    tokens = TokenSource(
        party="alpha", private_key_pem=(certs / "auth2.key").read_bytes(), audience="sky.test"
    )
    token = tokens.token()
    assert tokens.token() == token  # reused until ten minutes before it expires
    assert tokens.headers() == {"Authorization": f"Bearer {token}"}
    claims = TokenVerifier(load_public_keys([certs / "auth2.pem"]), ["sky.test"]).verify(token)
    assert claims.sub == "alpha" and claims.iss == "sharedsky-cli"
    assert claims.scopes == frozenset(LIVE_SCOPES)
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["exp"] - raw["iat"] == 3600 and raw["aud"] == "sky.test"


def test_a_token_from_a_file_is_passed_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc.def.ghi\n")
    tokens = TokenSource.from_options(None, tmp_path / "token", None, "https://sky.test:8443")
    assert tokens.token() == "abc.def.ghi" and tokens.audience == "sky.test"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InvalidInput, match="is empty"):
        TokenSource.from_options(None, tmp_path / "empty", None, "https://sky.test")


def test_a_key_that_cannot_sign_is_refused_in_one_error(tmp_path: Path) -> None:
    bad = b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    with pytest.raises(InvalidInput, match="cannot sign a token with this key"):
        TokenSource(party="alpha", private_key_pem=bad).token()


def test_a_written_key_pair_signs_tokens_its_public_half_verifies(tmp_path: Path) -> None:
    private, private_path, public_path = write_key_pair(tmp_path, "run")
    assert private_path == tmp_path / "run.pem" and private_path.read_bytes() == private
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    token = mint_token(private, sub="uss1", scopes=[SCOPE_STRATEGIC_COORDINATION])
    claims = TokenVerifier(load_public_keys([public_path]), ["localhost"]).verify(token)
    assert claims.sub == "uss1" and claims.scopes == {SCOPE_STRATEGIC_COORDINATION}
    with pytest.raises(FileExistsError):  # never overwrites a key
        write_key_pair(tmp_path, "run")
