"""Public test utilities: tokens, a real server in a subprocess, and an F3548 client loop.

Used by sharedsky's own test suite, and meant for anyone testing a USS against sharedsky.
Production code never imports this module. The utilities are those of :mod:`sharedsky.client`,
under the names tests have always used:

* :func:`mint_token` signs an RS256 access token the way F3548 clients present them.
* :class:`ServerProcess` runs ``sharedsky serve`` as a real subprocess on a free loopback port.
* :class:`DssClient` speaks the DSS wire format and implements the client side of the OVN key
  mechanism: query, build the key, put, and on 409 add the missing OVNs and retry.
* :data:`ALL_SCOPES` is every F3548 scope (:data:`sharedsky.model.scopes.F3548_SCOPES`).
"""

from __future__ import annotations

from sharedsky.client import (
    DssClient,
    PutOutcome,
    ServerProcess,
    box_volume,
    free_port,
    mint_token,
    rfc3339,
)
from sharedsky.model.scopes import F3548_SCOPES as ALL_SCOPES

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
