"""Benchmark: operational-intent writes through the full F3548 client loop.

Each client is one USS (its own ``sub``) that repeatedly plans an operational intent: query the
area, build the key from the OVNs the managing USSs serve, PUT, and on 409 add the missing OVNs
and retry. Clients run concurrently on loopback against ``sharedsky serve`` processes:

* (a) ``separate``: every client in its own area (no shared S2 cell);
* (b) ``same-cells``: every client in the same few cells, so every write must carry every other
  client's current OVN and races produce 409s that the client resolves.

Printed per backend (SQLite, PostgreSQL), scenario and client count: successful writes per
second, p50/p99 latency of the whole loop (query to acknowledged write), mean attempts per write,
and loops that gave up. Reference DSS figures (InterUSS, CockroachDB, 10 Locust users): about
120-150 writes/s non-overlapping (p50 ~20 ms); 5-25 writes/s overlapping with p95 spikes of 25-50 s.

Run: ``.venv/bin/python bench/strategic/run.py`` (``--help`` for options). Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sharedsky.testing import ServerProcess, box_volume, mint_token

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)


async def _client(
    index: int,
    urls: list[str],
    token: str,
    scenario: str,
    directory: dict[str, str],
    t0: datetime,
    stop_at: float,
    result: Result,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    lat = 46.5 if scenario == "same-cells" else 40.0 + 0.2 * index
    lng = 7.5
    entity_id = str(uuid.uuid4())
    ovn: str | None = None
    url = urls[index % len(urls)]
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            extents = [box_volume(lat, lng, 0.004, t0, t0 + timedelta(minutes=30 + n % 7), 0, 120)]
            started = time.monotonic()
            r = await http.post(
                "/dss/v1/operational_intent_references/query",
                json={"area_of_interest": extents[0]},
            )
            if r.status_code != 200:
                result.errors.append(f"query {r.status_code} {r.text[:200]}")
                return
            refs = r.json()["operational_intent_references"]
            key = {
                directory[x["id"]] for x in refs if x["id"] != entity_id and x["id"] in directory
            }
            attempts = 0
            while True:
                attempts += 1
                path = f"/dss/v1/operational_intent_references/{entity_id}"
                if ovn:
                    path += f"/{ovn}"
                body: dict[str, Any] = {
                    "extents": extents,
                    "key": sorted(key),
                    "state": "Accepted",
                    "uss_base_url": f"https://uss{index}.example.com",
                }
                r = await http.put(path, json=body)
                if r.status_code in (200, 201):
                    ovn = r.json()["operational_intent_reference"]["ovn"]
                    directory[entity_id] = ovn
                    result.latencies.append(time.monotonic() - started)
                    result.attempts.append(attempts)
                    break
                if r.status_code == 409 and attempts < 20:
                    missing = r.json().get("missing_operational_intents") or []
                    key |= {directory[m["id"]] for m in missing if m["id"] in directory}
                    continue
                if r.status_code == 409:
                    result.gave_up += 1
                    break
                result.errors.append(f"put {r.status_code} {r.text[:200]}")
                return


async def _run(
    urls: list[str], tokens: list[str], scenario: str, duration_s: float
) -> tuple[Result, float]:
    result = Result()
    directory: dict[str, str] = {}
    t0 = datetime.now(UTC) + timedelta(minutes=2)
    started = time.monotonic()
    stop_at = started + duration_s
    await asyncio.gather(
        *(
            _client(i, urls, tok, scenario, directory, t0, stop_at, result)
            for i, tok in enumerate(tokens)
        )
    )
    return result, time.monotonic() - started


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--scenarios", default="separate,same-cells")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per configuration")
    parser.add_argument("--processes", type=int, default=2, help="server processes per backend")
    parser.add_argument("--pg-url", default=None, help="use this PostgreSQL instead of pgserver")
    args = parser.parse_args()

    certs = SHARED / "spec" / "test-certs"
    if not certs.is_dir():
        print(f"the shared folder with test certificates is missing: {certs}", file=sys.stderr)
        return 2
    private_key = (certs / "auth2.key").read_bytes()
    work = Path(tempfile.mkdtemp(prefix="sharedsky-bench-"))
    pg = None
    rows: list[tuple[str, ...]] = []
    print(
        f"{'backend':<11}{'scenario':<12}{'clients':>8}{'writes/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'attempts':>9}{'gave up':>8}"
    )
    for backend in args.backends.split(","):
        if backend == "sqlite":
            db_url = f"sqlite:///{work / 'bench.sqlite'}"
        else:
            if args.pg_url:
                db_url = args.pg_url
            else:
                import pgserver

                pg = pgserver.get_server(work / "pg", cleanup_mode="stop")
                db_url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        servers = [
            ServerProcess(db_url, [certs / "auth2.pem"], log_path=work / f"{backend}-{i}.log")
            for i in range(args.processes)
        ]
        for s in servers:
            s.start()
        try:
            for scenario in args.scenarios.split(","):
                for n in (int(x) for x in args.clients.split(",")):
                    tokens = [
                        mint_token(
                            private_key,
                            sub=f"bench-{scenario}-{n}-{i}",
                            scopes=["utm.strategic_coordination"],
                        )
                        for i in range(n)
                    ]
                    res, elapsed = asyncio.run(
                        _run([s.url for s in servers], tokens, scenario, args.duration)
                    )
                    if res.errors:
                        print(f"  errors: {res.errors[:3]}", file=sys.stderr)
                    lat_ms = [x * 1000 for x in res.latencies]
                    row = (
                        backend,
                        scenario,
                        str(n),
                        f"{len(res.latencies) / elapsed:.0f}",
                        f"{_pct(lat_ms, 50):.1f}",
                        f"{_pct(lat_ms, 99):.1f}",
                        f"{statistics.fmean(res.attempts) if res.attempts else 0:.2f}",
                        str(res.gave_up),
                    )
                    rows.append(row)
                    print(
                        f"{row[0]:<11}{row[1]:<12}{row[2]:>8}{row[3]:>10}{row[4]:>9}"
                        f"{row[5]:>9}{row[6]:>9}{row[7]:>8}",
                        flush=True,
                    )
        finally:
            for s in servers:
                s.stop()
    if pg is not None:
        pg.cleanup()
    print(
        "reference DSS (InterUSS, 10 users): separate ~120-150 writes/s, p50 ~20 ms; "
        "same cells 5-25 writes/s, p95 spikes 25-50 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
