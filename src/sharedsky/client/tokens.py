"""Credentials: RS256 access tokens signed with a private key, and where a client gets its own.

* :func:`mint_token` signs a token with the claims F3548 clients present (``sub``, ``scope``,
  ``aud``, ``exp``...), for any scopes.
* :class:`TokenSource` gives a party's client its bearer token: read from a file, or signed
  here for the live scopes and renewed before it expires.
* :func:`write_key_pair` makes a fresh RSA key pair for a server and its clients (the demo's,
  a test's).
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sharedsky.errors import InvalidInput
from sharedsky.model.scopes import LIVE_SCOPES

__all__ = ["TokenSource", "mint_token", "write_key_pair"]

_TOKEN_LIFETIME_S = 3600.0
_RENEW_BEFORE_S = 600.0


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
    import jwt

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
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(private_key_pem, password=None)


def write_key_pair(folder: Path, name: str = "key") -> tuple[bytes, Path, Path]:
    """A fresh 2048-bit RSA key pair: the private key (PEM) in memory and in
    ``folder/<name>.pem`` (created, mode 0600), the public key in ``folder/<name>.pub.pem`` for
    the server (``sharedsky serve --public-key``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path = folder / f"{name}.pem"
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    public_path = folder / f"{name}.pub.pem"
    public_path.write_bytes(public)
    return private, private_path, public_path


class TokenSource:
    """A bearer token: read from a file, or signed here with an RSA private key for ``party``.

    Signed tokens carry ``sub`` = the party, the push and read scopes, ``aud`` = ``audience``
    and a one-hour lifetime; they are renewed ten minutes before they expire.
    """

    def __init__(
        self,
        *,
        party: str | None = None,
        token: str | None = None,
        private_key_pem: bytes | None = None,
        audience: str = "localhost",
        issuer: str = "sharedsky-cli",
    ) -> None:
        if (token is None) == (private_key_pem is None):
            raise InvalidInput("give exactly one of a token or a private key", "credentials")
        if private_key_pem is not None and not party:
            raise InvalidInput("a party is required to sign a token with a key", "--party")
        self.party = party
        self.audience = audience
        self.issuer = issuer
        self._token = token
        self._key = private_key_pem
        self._expires = math.inf if token is not None else 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_options(
        cls, party: str | None, token_file: Path | None, key: Path | None, server: str
    ) -> TokenSource:
        """From the command-line options; the audience is the server's host name."""
        if (token_file is None) == (key is None):
            raise InvalidInput("give exactly one of --token-file or --key", "--token-file/--key")
        audience = urlsplit(server).hostname or "localhost"
        if token_file is not None:
            try:
                text = token_file.read_text().strip()
            except OSError as exc:
                raise InvalidInput(f"cannot read {token_file}: {exc}", "--token-file") from exc
            if not text:
                raise InvalidInput(f"{token_file} is empty", "--token-file")
            return cls(party=party, token=text, audience=audience)
        assert key is not None
        try:
            pem = key.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {key}: {exc}", "--key") from exc
        if b"PRIVATE KEY" not in pem:
            raise InvalidInput(f"{key} is not a PEM private key", "--key")
        return cls(party=party, private_key_pem=pem, audience=audience)

    def token(self) -> str:
        """The current token (signing a new one when needed)."""
        with self._lock:
            if self._token is None or time.time() > self._expires - _RENEW_BEFORE_S:
                self._token = self._sign()
            return self._token

    def _sign(self) -> str:
        import jwt

        now = datetime.now(UTC)
        assert self._key is not None and self.party
        try:
            token = mint_token(
                self._key,
                sub=self.party,
                scopes=LIVE_SCOPES,
                audience=self.audience,
                expires_in=_TOKEN_LIFETIME_S,
                issuer=self.issuer,
                now=now,
            )
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise InvalidInput(f"cannot sign a token with this key ({exc})", "--key") from exc
        self._expires = now.timestamp() + _TOKEN_LIFETIME_S
        return token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}
