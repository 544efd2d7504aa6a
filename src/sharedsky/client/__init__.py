"""The Python client of a sharedsky server: what another party's software, the CLI, the tests
and the benchmarks use to talk to it.

* Credentials (:mod:`~sharedsky.client.tokens`): :func:`mint_token`, :class:`TokenSource`,
  :func:`write_key_pair`.
* The live interface (:mod:`~sharedsky.client.live`): :class:`LiveClient`,
  :class:`AlertListener`, :class:`PushResult`, :func:`batch_to_json`, :func:`push_replay` with
  :class:`ReplayTally`.
* The F3548 DSS (:mod:`~sharedsky.client.dss`): :class:`DssClient` with the key-and-retry loop,
  :class:`PutOutcome`, :func:`box_volume`, :func:`rfc3339`.
* A local server (:mod:`~sharedsky.client.server`): :class:`ServerProcess`, :func:`free_port`.
* Errors (:mod:`~sharedsky.client.errors`): :class:`ServerUnavailable`,
  :class:`ServerStartFailed`; a refusing server raises the service's own
  :class:`~sharedsky.errors.Unauthenticated` and :class:`~sharedsky.errors.PermissionDenied`.

The client speaks to the server only over HTTP and WebSocket: it imports neither the service
(``api``, ``services``, ``store``) nor the CLI's frameworks.
"""

from __future__ import annotations

from sharedsky.client.dss import DssClient, OvnLookup, PutOutcome, box_volume, rfc3339
from sharedsky.client.errors import ServerStartFailed, ServerUnavailable
from sharedsky.client.live import (
    AlertListener,
    LiveClient,
    PushResult,
    ReplayTally,
    batch_to_json,
    push_replay,
)
from sharedsky.client.server import ServerProcess, free_port
from sharedsky.client.tokens import TokenSource, mint_token, write_key_pair

__all__ = [
    "AlertListener",
    "DssClient",
    "LiveClient",
    "OvnLookup",
    "PushResult",
    "PutOutcome",
    "ReplayTally",
    "ServerProcess",
    "ServerStartFailed",
    "ServerUnavailable",
    "TokenSource",
    "batch_to_json",
    "box_volume",
    "free_port",
    "mint_token",
    "push_replay",
    "rfc3339",
    "write_key_pair",
]
