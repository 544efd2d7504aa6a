"""Settings of a running sharedsky service, built once at the entry point (``create_app`` or the
CLI) and passed down; nothing else reads the environment.

Environment variables (read only by :meth:`Settings.from_env`):

``SHAREDSKY_DB``
    SQLAlchemy URL of the database (default ``sqlite:///sharedsky.sqlite``, a file in the current
    directory; PostgreSQL as ``postgresql+psycopg://user:pass@host/dbname``).
``SHAREDSKY_PUBLIC_KEYS``
    PEM files of the public keys that may sign access tokens, separated by commas.
``SHAREDSKY_AUDIENCE``
    Accepted token audiences (the host names clients call us by), separated by commas.
``SHAREDSKY_ALLOW_HTTP_BASE_URLS``
    ``1``/``true`` to accept ``http://`` USS base URLs (tests and local runs only).
``SHAREDSKY_RATE_LIMIT``
    Requests per second allowed to each client (token ``sub``); more are answered 429. Off when
    unset or 0.
``SHAREDSKY_FAST_LANE``
    ``0``/``false`` to answer every DSS request through FastAPI's routes, without the short path
    of the planning loop (:mod:`sharedsky.api.dss.fast_lane`; same answers, more CPU).
``SHAREDSKY_OPEN_TELEMETRY``
    ``1``/``true`` to let FastAPI's native OpenTelemetry instrumentation trace and measure
    requests (for an operator who configures OpenTelemetry providers or exporters, e.g. with
    ``FASTAPI_OTEL_AUTO_CONFIGURE=true``). Off by default: unconfigured, it records nothing yet
    still costs a few hundred microseconds of CPU per request.
``SHAREDSKY_LANE_THREADS``
    Threads per server process that run the planning loop's database transactions (default 3;
    see :data:`DEFAULT_LANE_THREADS`).
``SHAREDSKY_LIVE_CONFIG``
    JSON file of the live tactical service (minima, lead times, ages, borders, lines, volumes;
    see :mod:`sharedsky.services.live.config`). Defaults apply when unset.

Token policy: there is no insecure mode and no built-in key. Without any public key the service
still starts (health and version answer), but every DSS request is refused with 401, so a
forgotten ``--public-key`` fails closed and loudly rather than open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sharedsky.errors import InvalidInput

__all__ = [
    "DEFAULT_AUDIENCES",
    "DEFAULT_DB_URL",
    "DEFAULT_HOST",
    "DEFAULT_LANE_THREADS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "Settings",
]

DEFAULT_DB_URL = "sqlite:///sharedsky.sqlite"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8082
DEFAULT_AUDIENCES: tuple[str, ...] = ("localhost", "127.0.0.1")
# 10,000 vertices (the F3548 maximum) take about 450 kB of JSON; leave room for several extents.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Allowed clock skew between the token issuer and us, in seconds (exp, nbf, and the 1 h cap).
DEFAULT_TOKEN_LEEWAY_S = 60.0

DEFAULT_LANE_THREADS = 3
"""Threads of the planning loop's short path per process (:mod:`sharedsky.api.dss.fast_lane`),
i.e. how many of its database transactions one process runs at once. About one per core plus
one: more add no throughput on a busy host but let requests overtake each other (more runnable
threads and database backends for the scheduler to interleave), which widens the latency tail.
On the 2-core benchmark host, 50 clients writing in separate areas through two processes:
3 threads, p99 89-101 ms; 8 threads, p99 183-224 ms; the same ~750-820 writes/s. A write that
waits for its area lock holds a thread while it waits: raise this on a host with many cores or
with many writers in one area."""
MAX_LANE_THREADS = 256

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything a sharedsky server needs to start.

    Attributes:
        db_url: SQLAlchemy URL of the store (SQLite file or PostgreSQL).
        host: interface to listen on (loopback by default).
        port: TCP port (8082, as the reference DSS).
        public_key_pems: PEM files (public keys or certificates) that verify RS256 access tokens;
            a token is accepted when any of them verifies it.
        audiences: accepted values of the token ``aud`` claim.
        max_body_bytes: larger request bodies are refused with 413.
        allow_http_base_urls: accept ``http://`` USS base URLs (otherwise ``https://`` only).
        token_leeway_s: clock skew tolerated on ``exp``, ``nbf`` and the one-hour ``exp`` cap.
        rate_limit_per_s: requests per second per client (token ``sub``), in bursts of up to
            twice that (at least 10); beyond, 429. ``None`` (default): no limit.
        live_config: JSON configuration file of the live tactical service (``None``: defaults).
        fast_lane: answer the planning loop's requests (query, create and update of operational
            intents) on the short path of :mod:`sharedsky.api.dss.fast_lane`; off, FastAPI's
            routes answer them (same answers, more CPU per request).
        open_telemetry: FastAPI's native OpenTelemetry instrumentation (spans, metrics, logs
            of requests); off by default.
        lane_threads: threads of the short path per process (:data:`DEFAULT_LANE_THREADS`).
    """

    db_url: str = DEFAULT_DB_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_key_pems: tuple[Path, ...] = ()
    audiences: tuple[str, ...] = field(default=DEFAULT_AUDIENCES)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allow_http_base_urls: bool = False
    token_leeway_s: float = DEFAULT_TOKEN_LEEWAY_S
    rate_limit_per_s: float | None = None
    live_config: Path | None = None
    fast_lane: bool = True
    open_telemetry: bool = False
    lane_threads: int = DEFAULT_LANE_THREADS

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key_pems", tuple(Path(p) for p in self.public_key_pems))
        object.__setattr__(self, "audiences", tuple(str(a) for a in self.audiences))
        if not self.db_url or not isinstance(self.db_url, str):
            raise InvalidInput("a database URL is required", "db_url")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise InvalidInput("must be an integer", "port")
        if not 0 <= self.port <= 65535:
            raise InvalidInput(f"{self.port} is not a TCP port (0..65535)", "port")
        if not self.audiences or any(not a for a in self.audiences):
            raise InvalidInput("at least one non-empty audience is required", "audiences")
        if isinstance(self.max_body_bytes, bool) or not isinstance(self.max_body_bytes, int):
            raise InvalidInput("must be an integer", "max_body_bytes")
        if self.max_body_bytes < 1024:
            raise InvalidInput("must be at least 1024 bytes", "max_body_bytes")
        if not 0 <= self.token_leeway_s <= 600:
            raise InvalidInput("must lie in 0..600 seconds", "token_leeway_s")
        if isinstance(self.lane_threads, bool) or not isinstance(self.lane_threads, int):
            raise InvalidInput("must be an integer", "lane_threads")
        if not 1 <= self.lane_threads <= MAX_LANE_THREADS:
            raise InvalidInput(f"must lie in 1..{MAX_LANE_THREADS}", "lane_threads")
        if self.rate_limit_per_s is not None:
            if isinstance(self.rate_limit_per_s, bool) or not isinstance(
                self.rate_limit_per_s, int | float
            ):
                raise InvalidInput("must be a number", "rate_limit_per_s")
            if self.rate_limit_per_s == 0:
                object.__setattr__(self, "rate_limit_per_s", None)
            elif not 0 < self.rate_limit_per_s < float("inf"):
                raise InvalidInput("must be a positive number (0 turns it off)", "rate_limit_per_s")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then the ``SHAREDSKY_*`` variables of ``environ`` (``os.environ`` when not
        given), then ``overrides``. Overrides that are ``None`` (an option not given on the command
        line) or empty sequences are ignored, so the CLI can pass its options straight through."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("SHAREDSKY_DB"):
            values["db_url"] = env["SHAREDSKY_DB"]
        if env.get("SHAREDSKY_PUBLIC_KEYS"):
            values["public_key_pems"] = tuple(Path(p) for p in _split(env["SHAREDSKY_PUBLIC_KEYS"]))
        if env.get("SHAREDSKY_AUDIENCE"):
            values["audiences"] = _split(env["SHAREDSKY_AUDIENCE"])
        for variable, name in (
            ("SHAREDSKY_ALLOW_HTTP_BASE_URLS", "allow_http_base_urls"),
            ("SHAREDSKY_FAST_LANE", "fast_lane"),
            ("SHAREDSKY_OPEN_TELEMETRY", "open_telemetry"),
        ):
            if variable in env:
                raw = env[variable].strip().lower()
                if raw not in _TRUE | _FALSE:
                    raise InvalidInput(f"{raw!r} is not a boolean (use 1/0, true/false)", variable)
                values[name] = raw in _TRUE
        for variable, name, kind, what in (
            ("SHAREDSKY_RATE_LIMIT", "rate_limit_per_s", float, "a number"),
            ("SHAREDSKY_LANE_THREADS", "lane_threads", int, "an integer"),
        ):
            if env.get(variable):
                raw = env[variable].strip()
                try:
                    values[name] = kind(raw)
                except ValueError as exc:
                    raise InvalidInput(f"{raw!r} is not {what}", variable) from exc
        if env.get("SHAREDSKY_LIVE_CONFIG"):
            values["live_config"] = Path(env["SHAREDSKY_LIVE_CONFIG"])
        known = {f.name for f in fields(cls)}
        for name, value in overrides.items():
            if name not in known:
                raise TypeError(f"unknown setting {name!r}")
            if value is None:
                continue
            if isinstance(value, Iterable) and not isinstance(value, str | bytes):
                value = tuple(value)
                if not value:
                    continue
            values[name] = value
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)
