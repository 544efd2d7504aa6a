"""The optional per-client rate limit: token buckets, and 429 with Retry-After over HTTP."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sharedsky.api import create_app
from sharedsky.api.ratelimit import RateLimited, RateLimiter
from sharedsky.config import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SC = "utm.strategic_coordination"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_bursts_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(RateLimited) as info:
        limiter.check("a")
    assert info.value.retry_after_s == pytest.approx(0.5)
    limiter.check("b")  # other clients have their own bucket
    clock.now += 0.5
    limiter.check("a")
    with pytest.raises(RateLimited):
        limiter.check("a")
    clock.now += 100
    for _ in range(3):
        limiter.check("a")  # refilled, but never beyond the burst
    with pytest.raises(RateLimited):
        limiter.check("a")


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1)
    with pytest.raises(ValueError):
        RateLimiter(1, 0)


def test_settings_zero_turns_it_off() -> None:
    assert Settings(rate_limit_per_s=0).rate_limit_per_s is None
    assert Settings.from_env({"SHAREDSKY_RATE_LIMIT": "5"}).rate_limit_per_s == 5.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_too_many_requests_is_429(
    db_url: str,
    public_key_path: Path,
    auth: Callable[..., dict[str, str]],
    volume: Callable[..., dict[str, Any]],
    assert_spec: Callable[[Any, str], None],
) -> None:
    settings = Settings(db_url=db_url, public_key_pems=(public_key_path,), rate_limit_per_s=0.01)
    body = {"area_of_interest": volume()}
    url = "/dss/v1/operational_intent_references/query"
    with TestClient(create_app(settings), base_url="http://localhost") as c:
        codes = [c.post(url, json=body, headers=auth(SC)).status_code for _ in range(11)]
        assert codes == [200] * 10 + [429]  # a burst of 10 is always allowed
        r = c.post(url, json=body, headers=auth(SC))
        assert r.status_code == 429
        assert_spec(r.json(), "ErrorResponse")
        assert int(r.headers["retry-after"]) >= 1
        assert c.post(url, json=body, headers=auth(SC, sub="uss2")).status_code == 200
        assert c.get("/healthy").status_code == 200
