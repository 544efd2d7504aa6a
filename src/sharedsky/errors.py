"""The exception tree of sharedsky.

::

    SharedskyError                 base of everything raised on purpose
    ├── InvalidInput               bad input from a caller (names the field)        -> 400
    │   └── AreaTooLarge           an area beyond the configured limits             -> 413 or 400
    ├── Unauthenticated            missing, malformed, badly signed or expired token -> 401
    ├── PermissionDenied           authenticated but not allowed                    -> 403
    ├── NotFound                   no such entity visible to the caller             -> 404
    ├── PreconditionFailed         the caller's own declared state forbids it       -> 412
    ├── Conflict                   state changed under the caller (OVN, version)    -> 409
    │   └── AirspaceConflict       key misses OVNs of intersecting entities         -> 409
    └── StorageError               the database failed in a way the caller cannot fix -> 503

Library code raises these; each interface (HTTP API, CLI) turns them into its own wire form in
exactly one place. Errors of third-party libraries are translated at the module that calls them
and chained with ``from``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AirspaceConflict",
    "AreaTooLarge",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "SharedskyError",
    "StorageError",
    "Unauthenticated",
    "reject_nul",
]


class SharedskyError(Exception):
    """Base of every error sharedsky raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SharedskyError):
    """The caller sent something malformed or out of range; ``field`` names where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def reject_nul(value: str, field: str) -> str:
    """``value``, unless it holds a NUL character (0x00): PostgreSQL cannot store one in text,
    so it is refused at input, with the same answer on every backend."""
    if "\x00" in value:
        raise InvalidInput("must not contain NUL (0x00) characters", field)
    return value


class AreaTooLarge(InvalidInput):
    """An area (polygon, circle, covering) is larger than allowed."""


class Unauthenticated(SharedskyError):
    """No usable credentials: missing, malformed, badly signed, wrong audience or expired."""


class PermissionDenied(SharedskyError):
    """Valid credentials that do not allow this operation (scope, ownership)."""


class NotFound(SharedskyError):
    """The entity does not exist, or is not visible to the caller."""


class PreconditionFailed(SharedskyError):
    """The caller's own declared state forbids the operation (e.g. a USS marked Down in the DSS
    may not make its intents Accepted or Activated, nor delete them)."""


class Conflict(SharedskyError):
    """The entity changed since the caller last saw it (wrong OVN or version), or already exists."""


class AirspaceConflict(Conflict):
    """The presented key lacks the current OVN of intersecting entities.

    ``missing_operational_intents`` and ``missing_constraints`` hold the entities (already in the
    caller's view, i.e. with other managers' OVNs hidden) that must be read before retrying.
    """

    def __init__(
        self,
        message: str,
        missing_operational_intents: list[Any] | None = None,
        missing_constraints: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.missing_operational_intents = missing_operational_intents or []
        self.missing_constraints = missing_constraints or []


class StorageError(SharedskyError):
    """The database failed (busy, unreachable, serialisation retries exhausted)."""
