"""An F3548-21 DSS client for one USS, with the client side of the OVN key mechanism.

:class:`DssClient` speaks the DSS wire format; :meth:`DssClient.plan` is the full planning
loop: query the area, build the key from the OVNs of the intersecting intents, put, and on 409
add the missing OVNs and retry. :func:`box_volume` and :func:`rfc3339` build wire values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["DssClient", "OvnLookup", "PutOutcome", "box_volume", "rfc3339"]


def rfc3339(value: datetime) -> str:
    """UTC time in the F3548 wire form (RFC 3339 with ``Z``)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def box_volume(
    lat: float,
    lng: float,
    half_size_deg: float,
    time_start: datetime,
    time_end: datetime,
    altitude_lower_m: float = 0.0,
    altitude_upper_m: float = 120.0,
) -> dict[str, Any]:
    """A Volume4D in wire form: a square footprint centred on (lat, lng)."""
    d = half_size_deg
    vertices = [
        {"lat": lat - d, "lng": lng - d},
        {"lat": lat - d, "lng": lng + d},
        {"lat": lat + d, "lng": lng + d},
        {"lat": lat + d, "lng": lng - d},
    ]
    return {
        "volume": {
            "outline_polygon": {"vertices": vertices},
            "altitude_lower": {"value": altitude_lower_m, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": altitude_upper_m, "reference": "W84", "units": "M"},
        },
        "time_start": {"value": rfc3339(time_start), "format": "RFC3339"},
        "time_end": {"value": rfc3339(time_end), "format": "RFC3339"},
    }


@dataclass
class PutOutcome:
    """What one client-side planning loop ended with."""

    status: int
    body: dict[str, Any]
    attempts: int
    key: list[str] = field(default_factory=list)
    request_started: float = 0.0
    acknowledged: float = 0.0


OvnLookup = Callable[[dict[str, Any]], str | None]
"""Given an operational intent reference (as the DSS returned it, OVN possibly hidden), the OVN
that its managing USS would serve, or None when it cannot be had (then it stays missing)."""


class DssClient:
    """A synchronous F3548 DSS client for one USS (one ``sub``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        uss_base_url: str = "https://uss.example.com",
        timeout_s: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.uss_base_url = uss_base_url
        self.http = http or httpx.Client(timeout=timeout_s)
        self.headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.http.close()

    def query_operational_intents(self, area: dict[str, Any]) -> list[dict[str, Any]]:
        r = self.http.post(
            f"{self.base_url}/dss/v1/operational_intent_references/query",
            json={"area_of_interest": area},
            headers=self.headers,
        )
        r.raise_for_status()
        return list(r.json()["operational_intent_references"])

    def put_operational_intent(
        self,
        entity_id: str,
        ovn: str | None,
        extents: list[dict[str, Any]],
        key: list[str],
        *,
        state: str = "Accepted",
        subscription_id: str | None = None,
    ) -> httpx.Response:
        path = f"{self.base_url}/dss/v1/operational_intent_references/{entity_id}"
        if ovn is not None:
            path += f"/{ovn}"
        body: dict[str, Any] = {
            "extents": extents,
            "key": key,
            "state": state,
            "uss_base_url": self.uss_base_url,
        }
        if subscription_id is not None:
            body["subscription_id"] = subscription_id
        return self.http.put(path, json=body, headers=self.headers)

    def delete_operational_intent(self, entity_id: str, ovn: str) -> httpx.Response:
        return self.http.delete(
            f"{self.base_url}/dss/v1/operational_intent_references/{entity_id}/{ovn}",
            headers=self.headers,
        )

    def plan(
        self,
        entity_id: str,
        ovn: str | None,
        extents: list[dict[str, Any]],
        ovn_lookup: OvnLookup,
        *,
        area: dict[str, Any] | None = None,
        state: str = "Accepted",
        max_attempts: int = 10,
    ) -> PutOutcome:
        """The full client loop: query the area, build the key, put; on 409 add the missing
        OVNs (from ``ovn_lookup``, i.e. from their managing USSs) and retry.
        """
        started = time.monotonic()
        refs = self.query_operational_intents(area or extents[0])
        key = _key_from(refs, ovn_lookup, exclude=entity_id)
        attempts = 0
        while True:
            attempts += 1
            r = self.put_operational_intent(entity_id, ovn, extents, sorted(key), state=state)
            body = r.json() if r.content else {}
            if r.status_code != 409 or attempts >= max_attempts:
                return PutOutcome(
                    r.status_code, body, attempts, sorted(key), started, time.monotonic()
                )
            missing = body.get("missing_operational_intents") or []
            key |= _key_from(missing, ovn_lookup, exclude=entity_id)


def _key_from(refs: Iterable[dict[str, Any]], lookup: OvnLookup, exclude: str) -> set[str]:
    key: set[str] = set()
    for ref in refs:
        if ref.get("id") == exclude:
            continue
        ovn = lookup(ref)
        if ovn:
            key.add(ovn)
    return key
