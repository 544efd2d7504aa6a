"""Per-client request rate limit (F3548's 429), off by default.

A token bucket per authenticated client (the token's ``sub``): ``rate_per_s`` requests per second
on average, bursts of up to ``burst``. The buckets live in one server process; with several
processes behind a balancer each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from sharedsky.errors import SharedskyError

__all__ = ["RateLimited", "RateLimiter"]

_MAX_CLIENTS = 10_000


class RateLimited(SharedskyError):
    """Too many requests from one client; ``retry_after_s`` says when one more will pass."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimiter:
    """Token buckets keyed by client id."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not rate_per_s > 0 or not math.isfinite(rate_per_s):
            raise ValueError("rate_per_s must be a positive number")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Take one token for ``client`` or raise :class:`RateLimited`."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate_per_s
                raise RateLimited(
                    f"too many requests from {client}: at most {self.rate_per_s:g} per second "
                    f"(bursts of {self.burst}); retry in {wait:.2f} s",
                    wait,
                )
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > _MAX_CLIENTS:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate_per_s
        idle = [c for c, (_, at) in self._buckets.items() if now - at >= full_after]
        for client in idle:
            del self._buckets[client]
