"""Errors of the client, under :class:`~sharedsky.errors.SharedskyError`::

    SharedskyError
    └── ServerUnavailable          the server could not be reached or broke the connection
        └── ServerStartFailed      a local ``sharedsky serve`` exited or never became healthy

A server that answers but refuses raises the service's own errors
(:class:`~sharedsky.errors.Unauthenticated` for a refused token,
:class:`~sharedsky.errors.PermissionDenied` for a missing scope); transport errors of httpx and
websockets are translated here, chained with ``from``.
"""

from __future__ import annotations

from sharedsky.errors import SharedskyError

__all__ = ["ServerStartFailed", "ServerUnavailable"]


class ServerUnavailable(SharedskyError):
    """The server could not be reached or broke the connection."""


class ServerStartFailed(ServerUnavailable, RuntimeError):
    """``sharedsky serve`` started by :class:`~sharedsky.client.ServerProcess` exited early
    (``exited``) or did not become healthy in time; ``output`` is the tail of its log.

    Also a :class:`RuntimeError`, for callers that catch that.
    """

    def __init__(self, message: str, *, output: str, exited: bool) -> None:
        super().__init__(message)
        self.output = output
        self.exited = exited
