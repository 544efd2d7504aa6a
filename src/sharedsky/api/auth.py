"""Access tokens: RS256 JSON Web Tokens as F3548 specifies them (``securitySchemes.Authority``).

A token is accepted when

* it is sent as ``Authorization: Bearer <token>``;
* its RS256 signature verifies with any configured public key;
* its ``aud`` is one of the configured audiences;
* ``exp`` is present, not past, and at most one hour ahead (plus leeway); ``nbf``, if present, is
  not in the future;
* ``sub`` and ``iss`` are non-empty strings; ``scope`` is a space-separated string of scopes.

Anything else is :class:`~sharedsky.errors.Unauthenticated` (401). Each endpoint declares scope
*groups*; the caller needs every scope of at least one group, otherwise
:class:`~sharedsky.errors.PermissionDenied` (403).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sharedsky.errors import InvalidInput, PermissionDenied, Unauthenticated
from sharedsky.model.scopes import (
    SCOPE_AVAILABILITY_ARBITRATION,
    SCOPE_CONFORMANCE_MONITORING_SA,
    SCOPE_CONSTRAINT_MANAGEMENT,
    SCOPE_CONSTRAINT_PROCESSING,
    SCOPE_STRATEGIC_COORDINATION,
)

__all__ = [
    "AA",
    "CM",
    "CMSA",
    "CP",
    "MAX_TOKEN_LIFETIME_S",
    "SC",
    "ScopeGroups",
    "TokenClaims",
    "TokenVerifier",
    "check_scopes",
    "load_public_keys",
]

SC = SCOPE_STRATEGIC_COORDINATION
CMSA = SCOPE_CONFORMANCE_MONITORING_SA
CM = SCOPE_CONSTRAINT_MANAGEMENT
CP = SCOPE_CONSTRAINT_PROCESSING
AA = SCOPE_AVAILABILITY_ARBITRATION

# The spec: "exp, with a time no further than 1 hour in the future".
MAX_TOKEN_LIFETIME_S = 3600.0
# Verified tokens remembered per process (most recently used kept).
_CACHE_SIZE = 4096

ScopeGroups = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class TokenClaims:
    """What sharedsky uses of a verified token: ``sub`` (the manager), ``iss`` and the scopes."""

    sub: str
    iss: str
    scopes: frozenset[str]


def load_public_keys(paths: Iterable[Path]) -> tuple[RSAPublicKey, ...]:
    """Read RSA public keys from PEM files holding a public key or an X.509 certificate.

    Raises :class:`InvalidInput` naming the file when it cannot be read or holds no RSA key.
    """
    keys: list[RSAPublicKey] = []
    for path in paths:
        field = f"public key {path}"
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read the file ({exc.strerror or exc})", field) from exc
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                key = x509.load_pem_x509_certificate(data).public_key()
            else:
                key = load_pem_public_key(data)
        except ValueError as exc:
            raise InvalidInput("not a PEM public key or certificate", field) from exc
        if not isinstance(key, RSAPublicKey):
            raise InvalidInput("not an RSA key (tokens are signed with RS256)", field)
        keys.append(key)
    return tuple(keys)


class TokenVerifier:
    """Verifies bearer tokens against fixed keys and audiences.

    ``clock`` returns the current POSIX time; tests may pass a fixed one.
    """

    def __init__(
        self,
        keys: Sequence[RSAPublicKey],
        audiences: Sequence[str],
        leeway_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = tuple(keys)
        self._audiences = list(audiences)
        self._leeway_s = float(leeway_s)
        self._clock = clock
        # Clients reuse a token for many requests: remember verified ones (signature, audience
        # and claims do not change for the same string); expiry is checked on every use.
        self._verified: OrderedDict[str, tuple[TokenClaims, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify_header(self, authorization: str | None) -> TokenClaims:
        """Verify the value of an ``Authorization`` header; :class:`Unauthenticated` if unusable."""
        if not authorization:
            raise Unauthenticated("missing Authorization header (expected 'Bearer <token>')")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("malformed Authorization header (expected 'Bearer <token>')")
        return self.verify(token)

    def verify(self, token: str) -> TokenClaims:
        """Verify one compact JWT; :class:`Unauthenticated` on any failure."""
        with self._lock:
            cached = self._verified.get(token)
            if cached is not None:
                self._verified.move_to_end(token)
        if cached is not None:
            claims, exp = cached
            if exp + self._leeway_s > float(self._clock()):
                return claims
            with self._lock:
                self._verified.pop(token, None)
            raise Unauthenticated("access token has expired")
        verified, exp = self._verify_uncached(token)
        with self._lock:
            self._verified[token] = (verified, exp)
            while len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return verified

    def _verify_uncached(self, token: str) -> tuple[TokenClaims, float]:
        if not self._keys:
            raise Unauthenticated("this server has no public key configured to verify tokens")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed access token: {exc}") from exc
        if header.get("alg") != "RS256":
            raise Unauthenticated(
                f"access token algorithm must be RS256, not {header.get('alg')!r}"
            )
        claims: dict[str, object] | None = None
        last_error: jwt.PyJWTError | None = None
        now = float(self._clock())
        for key in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key=key,
                    algorithms=["RS256"],
                    audience=self._audiences,
                    leeway=self._leeway_s,
                    options={"require": ["exp", "sub", "iss"], "verify_iat": False},
                )
                break
            except jwt.InvalidSignatureError as exc:
                last_error = exc
                continue
            except jwt.ExpiredSignatureError as exc:
                raise Unauthenticated("access token has expired") from exc
            except jwt.InvalidAudienceError as exc:
                raise Unauthenticated(
                    f"access token audience is not accepted here (accepted: "
                    f"{', '.join(self._audiences)})"
                ) from exc
            except jwt.MissingRequiredClaimError as exc:
                raise Unauthenticated(f"access token lacks the {exc.claim!r} claim") from exc
            except jwt.ImmatureSignatureError as exc:
                raise Unauthenticated("access token is not valid yet (nbf)") from exc
            except jwt.PyJWTError as exc:
                raise Unauthenticated(f"invalid access token: {exc}") from exc
        if claims is None:
            raise Unauthenticated("access token signature does not verify") from last_error
        return self._check_claims(claims, now), float(claims["exp"])  # type: ignore[arg-type]

    def _check_claims(self, claims: dict[str, object], now: float) -> TokenClaims:
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise Unauthenticated("access token 'exp' claim must be a number")
        if exp + self._leeway_s <= now:
            raise Unauthenticated("access token has expired")
        if exp > now + MAX_TOKEN_LIFETIME_S + self._leeway_s:
            raise Unauthenticated("access token 'exp' is more than one hour in the future")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise Unauthenticated("access token 'sub' claim must be a non-empty string")
        if "\x00" in sub:  # PostgreSQL text cannot hold it, and no client is named so
            raise Unauthenticated("access token 'sub' claim must not contain NUL (0x00)")
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss.strip():
            raise Unauthenticated("access token 'iss' claim must be a non-empty string")
        scope = claims.get("scope", "")
        if isinstance(scope, list):  # tolerated: some issuers send a JSON array
            scope = " ".join(str(s) for s in scope)
        if not isinstance(scope, str):
            raise Unauthenticated("access token 'scope' claim must be a space-separated string")
        return TokenClaims(sub=sub, iss=iss, scopes=frozenset(scope.split()))


def check_scopes(claims: TokenClaims, groups: ScopeGroups) -> None:
    """:class:`PermissionDenied` unless the claims hold every scope of at least one group."""
    if any(group <= claims.scopes for group in groups):
        return
    wanted = " or ".join("+".join(sorted(group)) for group in groups)
    raise PermissionDenied(f"the access token lacks a scope allowed here (needs {wanted})")
