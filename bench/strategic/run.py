"""Benchmark: operational-intent writes through the full F3548 client loop.

Each client is one USS (its own ``sub``) that repeatedly plans an operational intent: query the
area, build the key from the OVNs the managing USSs serve, PUT, and on 409 add the missing OVNs
and retry. Clients run concurrently on loopback against ``sharedsky serve`` processes:

* (a) ``separate``: every client in its own area (no shared S2 cell);
* (b) ``same-cells``: every client in the same few cells at the same times, each in its own
  altitude band (20 m thick, 10 m apart), as in the reference DSS's "overlapping OIRs" load test
  (whose intents are 1 m slices at random heights up to 10 km): every write takes the same area
  locks, reads the same cells and must not wait on the others for longer than its turn, but the
  intents do not intersect in 4D, so no key needs another client's OVN;
* (c) ``same-volume``: every client in the same 4D volume, so every write must carry every
  other client's current OVN and races produce 409s that the client resolves (the F3548 loop's
  own limit: see bench/README.md);
* (d) ``mixed``: every client in its own area (as ``separate``) keeps three live intents that
  overlap one another there, and writes them in turn as a USS does over a flight's life: create
  (Accepted), update (Accepted, new times), update to Activated (new volume, with the implicit
  subscription F3548 asks for), delete (``DELETE`` with the current OVN, no query), then a new
  intent in that slot. Each create or update needs the client's own other live OVNs in its key.
  Its rows add p50/p99 per kind of write and how many writes met a 409 first, with the reason
  the DSS gave (which intents it said were missing, whose they were, and whether the client's
  query had returned them).

Two kinds of rows:

* **saturating** (offered ``max``): every client starts its next write as soon as the last one
  is acknowledged. This finds the most writes per second; the latency is then mostly queueing,
  the mean being the number of clients over the throughput (Little's law).
* **paced** (``--paced``, by default the targets: ``separate`` at 500 writes/s, ``same-cells``
  at 200): the clients together offer that rate, each client's writes arriving as a Poisson
  process. A write that arrives while its client's previous one is under way waits for it, and
  its latency counts from its arrival, so a server that falls behind shows it in full. This is
  the latency a USS sees at that load (the left side of the throughput curve, where the
  reference DSS's load-test guidance says figures are to be quoted).

Printed per backend (SQLite, PostgreSQL), scenario, client count and offered rate: successful
writes per second, p50/p99 latency of the whole loop (arrival or query to acknowledged write),
mean attempts per write, loops that gave up, the write-ahead log flushes that took 50 ms or more
(``slow flush``, count/longest ms, from the COMMITs that PostgreSQL logged as that slow; only
where the benchmark started PostgreSQL itself), and how the machine's cores were shared during the
run (CPU % of one core used by the load generator, the server processes, PostgreSQL, and
everything else).

The load generator is lean on purpose, because it shares the cores with the servers and the
database: one asyncio process, one HTTP/1.1 keep-alive connection per client written and read by
hand (no HTTP library), JSON by orjson.

Run: ``.venv/bin/python bench/strategic/run.py`` (``--help`` for options). Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from sharedsky.client import ServerProcess, box_volume, mint_token

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)
    # ``mixed`` only: latencies per kind of write, writes whose first attempt met a 409, and
    # what those 409s said.
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    first_409: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class Http:
    """One HTTP/1.1 keep-alive connection: JSON in, (status, JSON) out. Content-Length only."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.port = port
        self._head = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """One request; ``body`` None sends none."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        data = b"" if body is None else orjson.dumps(body)
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self._head
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length < 0:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        payload = await self._reader.readexactly(length)
        return status, orjson.loads(payload) if payload else None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


async def _client(
    index: int,
    lng: float,
    ports: list[int],
    token: str,
    scenario: str,
    directory: dict[str, str],
    t0: datetime,
    measure_from: float,
    stop_at: float,
    result: Result,
    mean_interval_s: float | None = None,
) -> None:
    shared = scenario in ("same-cells", "same-volume")
    lat = 46.5 if shared else 40.0 + 0.2 * index
    low, high = (30.0 * index, 30.0 * index + 20.0) if scenario == "same-cells" else (0.0, 120.0)
    entity_id = str(uuid.uuid4())
    ovn: str | None = None
    # Seven footprints in time, so consecutive writes differ (every write is a real change).
    extents = [
        box_volume(lat, lng, 0.004, t0, t0 + timedelta(minutes=30 + k), low, high) for k in range(7)
    ]
    base_url = f"https://uss{index}.example.com"
    http = Http("127.0.0.1", ports[index % len(ports)], token)
    # Paced rows: this client's writes arrive as a Poisson process (the clients together offer
    # the row's rate). A write that arrives while the client's previous one is still under way
    # waits for it, and its latency counts from its arrival, not from when it could start.
    arrivals = random.Random(index)
    due = time.monotonic()
    try:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            extent = extents[n % 7]
            if mean_interval_s is None:
                started = time.monotonic()
            else:
                due += arrivals.expovariate(1.0 / mean_interval_s)
                if due >= stop_at:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                started = due
            status, answer = await http.request(
                "POST",
                "/dss/v1/operational_intent_references/query",
                {"area_of_interest": extent},
            )
            if status != 200:
                result.errors.append(f"query {status} {str(answer)[:200]}")
                return
            key = {
                directory[x["id"]]
                for x in answer["operational_intent_references"]
                if x["id"] != entity_id and x["id"] in directory
            }
            attempts = 0
            while True:
                attempts += 1
                path = f"/dss/v1/operational_intent_references/{entity_id}"
                if ovn:
                    path += f"/{ovn}"
                body = {
                    "extents": [extent],
                    "key": sorted(key),
                    "state": "Accepted",
                    "uss_base_url": base_url,
                }
                status, answer = await http.request("PUT", path, body)
                if status in (200, 201):
                    ovn = answer["operational_intent_reference"]["ovn"]
                    directory[entity_id] = ovn
                    if started >= measure_from:
                        result.latencies.append(time.monotonic() - started)
                        result.attempts.append(attempts)
                    break
                if status == 409 and attempts < 20:
                    missing = answer.get("missing_operational_intents") or []
                    key |= {directory[m["id"]] for m in missing if m["id"] in directory}
                    continue
                if status == 409:
                    result.gave_up += 1
                    break
                result.errors.append(f"put {status} {str(answer)[:200]}")
                return
    finally:
        await http.close()


_OIR = "/dss/v1/operational_intent_references"


def _why_409(answer: Any, queried: set[str], owners: dict[str, int], me: int) -> list[str]:
    """What a 409 said, in words: each intent it listed as missing (whose it was, its state,
    and whether the client's query had returned it, so that the key held an older OVN of it),
    or the message of a 409 that lists none (a stale OVN in the path)."""
    missing = answer.get("missing_operational_intents") or []
    if not missing and not answer.get("missing_constraints"):
        return [f"no missing OVN: {str(answer.get('message'))[:70]}"]
    reasons = []
    for m in missing:
        owner = owners.get(m["id"])
        whose = "unknown" if owner is None else "own" if owner == me else "another client's"
        seen = "returned by the query" if m["id"] in queried else "absent from the query"
        reasons.append(f"{whose} {m.get('state')} intent, {seen}")
    reasons += ["a constraint"] * len(answer.get("missing_constraints") or [])
    return reasons


async def _mixed_client(
    index: int,
    lng: float,
    ports: list[int],
    token: str,
    directory: dict[str, str],
    owners: dict[str, int],
    t0: datetime,
    measure_from: float,
    stop_at: float,
    result: Result,
) -> None:
    """Scenario ``mixed`` (see the module docstring): three overlapping intents in this client's
    own area, each going create -> update -> update to Activated -> delete, the three in turn."""
    lat = 40.0 + 0.2 * index
    base_url = f"https://uss{index}.example.com"
    http = Http("127.0.0.1", ports[index % len(ports)], token)
    # Per slot: the intent's id (None: no live intent), its OVN, its phase (0 create, 1 update,
    # 2 update to Activated, 3 delete) and how many intents it has had (to vary the times).
    ids: list[str | None] = [None, None, None]
    ovns: list[str | None] = [None, None, None]
    # Staggered: slots 1 and 2 start one and two turns later (a turn of an empty slot in a
    # later phase writes nothing), so at most one slot is empty at a time.
    phases = [0, 3, 2]
    rounds = [0, 0, 0]
    try:
        n = 0
        while time.monotonic() < stop_at:
            slot = n % 3
            n += 1
            phase, c = phases[slot], rounds[slot]
            if phase and ids[slot] is None:
                phases[slot] = (phase + 1) % 4
                continue
            started = time.monotonic()
            if phase == 3:
                entity_id, ovn = ids[slot], ovns[slot]
                assert entity_id is not None and ovn is not None
                status, answer = await http.request("DELETE", f"{_OIR}/{entity_id}/{ovn}", None)
                if status != 200:
                    result.errors.append(f"delete {status} {str(answer)[:200]}")
                    return
                directory.pop(entity_id, None)
                ids[slot] = ovns[slot] = None
                kind, attempts = "delete", 1
            else:
                if phase == 0:
                    ids[slot] = str(uuid.uuid4())
                entity_id, ovn = ids[slot], ovns[slot]
                assert entity_id is not None
                # Overlapping squares 0.003 deg apart, times from t0; the update moves the end,
                # the Activated one the outline (0.001 deg north, 0.0005 deg larger).
                end = t0 + timedelta(minutes=30 + (c % 7) + (phase > 0))
                north, size = (0.001, 0.0045) if phase == 2 else (0.0, 0.004)
                extent = box_volume(lat + north, lng + 0.003 * slot, size, t0, end)
                status, answer = await http.request(
                    "POST", f"{_OIR}/query", {"area_of_interest": extent}
                )
                if status != 200:
                    result.errors.append(f"query {status} {str(answer)[:200]}")
                    return
                queried = {x["id"] for x in answer["operational_intent_references"]}
                key = {directory[x] for x in queried if x != entity_id and x in directory}
                body: dict[str, Any] = {
                    "extents": [extent],
                    "state": "Activated" if phase == 2 else "Accepted",
                    "uss_base_url": base_url,
                }
                if phase == 2:
                    body["new_subscription"] = {
                        "uss_base_url": base_url,
                        "notify_for_constraints": False,
                    }
                path = f"{_OIR}/{entity_id}" + (f"/{ovn}" if ovn else "")
                kind = "create" if phase == 0 else "update"
                attempts = 0
                while True:
                    attempts += 1
                    body["key"] = sorted(key)
                    status, answer = await http.request("PUT", path, body)
                    if status in (200, 201):
                        ovns[slot] = answer["operational_intent_reference"]["ovn"]
                        directory[entity_id] = ovns[slot]
                        owners[entity_id] = index
                        break
                    if status == 409 and attempts == 1 and started >= measure_from:
                        result.first_409 += 1
                        result.reasons.update(_why_409(answer, queried, owners, index))
                    if status == 409 and attempts < 20:
                        missing = answer.get("missing_operational_intents") or []
                        key |= {directory[m["id"]] for m in missing if m["id"] in directory}
                        continue
                    if status == 409:
                        result.gave_up += 1
                        break
                    result.errors.append(f"put {status} {str(answer)[:200]}")
                    return
                if status == 409:
                    continue  # gave up: this slot tries the same step again at its next turn
            phases[slot] = (phase + 1) % 4
            rounds[slot] += phase == 3
            if started >= measure_from:
                elapsed = time.monotonic() - started
                result.latencies.append(elapsed)
                result.attempts.append(attempts)
                result.by_kind.setdefault(kind, []).append(elapsed)
                if phase == 2:
                    result.by_kind.setdefault("to Activated", []).append(elapsed)
    finally:
        await http.close()


async def _run(
    ports: list[int],
    tokens: list[str],
    scenario: str,
    lng: float,
    warmup_s: float,
    duration_s: float,
    rate: float | None = None,
) -> Result:
    result = Result()
    directory: dict[str, str] = {}
    t0 = datetime.now(UTC) + timedelta(minutes=2)
    measure_from = time.monotonic() + warmup_s
    stop_at = measure_from + duration_s
    if scenario == "mixed":
        if rate is not None:
            raise ValueError("the mixed scenario has saturating rows only")
        owners: dict[str, int] = {}
        await asyncio.gather(
            *(
                _mixed_client(
                    i, lng, ports, tok, directory, owners, t0, measure_from, stop_at, result
                )
                for i, tok in enumerate(tokens)
            )
        )
        return result
    interval = None if rate is None else len(tokens) / rate
    await asyncio.gather(
        *(
            _client(
                i, lng, ports, tok, scenario, directory, t0, measure_from, stop_at, result, interval
            )
            for i, tok in enumerate(tokens)
        )
    )
    return result


# -- how the cores were shared ----------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks of it and its reaped children) of a process, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    # utime + stime, plus cutime + cstime: children that exited (e.g. database backends of
    # closed connections) keep counting through their parent.
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def _machine_busy_ticks() -> int:
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in cpu]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


class CpuShare:
    """CPU used by this process, its descendant processes (the servers), PostgreSQL (the
    postmaster and its children) and everything else, between :meth:`start` and :meth:`stop`."""

    def __init__(self, postmaster_pid: int | None) -> None:
        self.postmaster = postmaster_pid

    def _sample(self) -> tuple[float, int, int, int, int]:
        me = os.getpid()
        parents: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(int(entry))
                if stat is not None:
                    parents[int(entry)], ticks[int(entry)] = stat
        servers = db = 0
        for pid, used in ticks.items():
            p, depth = pid, 0
            while p > 1 and depth < 8:
                if p == self.postmaster:
                    db += used
                    break
                if parents.get(p) == me and p != me:
                    servers += used
                    break
                p, depth = parents.get(p, 0), depth + 1
        own = os.times()
        return (
            time.monotonic(),
            int((own.user + own.system) * _TICKS),
            servers,
            db,
            (_machine_busy_ticks()),
        )

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> dict[str, float]:
        end = self._sample()
        wall = end[0] - self._start[0]
        client, servers, db, busy = (end[i] - self._start[i] for i in range(1, 5))
        pct = {
            "client": client,
            "servers": servers,
            "db": db,
            "other": max(0, busy - client - servers - db),
        }
        return {k: 100.0 * v / _TICKS / wall for k, v in pct.items()}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


SLOW_COMMIT_MS = 50
_SLOW_COMMIT = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC LOG:  duration: ([\d.]+) ms  "
    r"(?:execute [^:]*|statement): COMMIT$"
)


def _log_slow_commits(pg: Any) -> None:
    """Have pgserver's PostgreSQL log every statement that takes SLOW_COMMIT_MS or more, with
    UTC millisecond times (:func:`_slow_flushes` reads the COMMITs back)."""
    pg.psql(
        f"ALTER SYSTEM SET log_min_duration_statement = {SLOW_COMMIT_MS}; "
        "ALTER SYSTEM SET log_line_prefix = '%m '; ALTER SYSTEM SET log_timezone = 'UTC'; "
        "SELECT pg_reload_conf();"
    )


def _slow_flushes(log: Path | None, start: float, end: float) -> str:
    """``count/longest ms`` of the write-ahead log flushes of SLOW_COMMIT_MS or more between
    ``start`` and ``end`` (Unix times), from the COMMITs in PostgreSQL's log: the commits that
    waited on one flush end within a few milliseconds of each other and count once. ``-`` where
    the log is not ours to read (``--pg-url``)."""
    if log is None or not log.is_file():
        return "-"
    ends: list[tuple[float, float]] = []
    with log.open(errors="replace") as lines:
        for line in lines:
            found = _SLOW_COMMIT.match(line.rstrip("\n"))
            if found is None:
                continue
            at = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            if start <= at.timestamp() <= end:
                ends.append((at.timestamp(), float(found[2])))
    flushes: list[tuple[float, float]] = []
    for at, ms in sorted(ends):
        if flushes and at - flushes[-1][0] < 0.02:
            flushes[-1] = (at, max(ms, flushes[-1][1]))
        else:
            flushes.append((at, ms))
    return f"{len(flushes)}/{max((ms for _, ms in flushes), default=0):.0f}"


def _mixed_line(res: Result) -> str:
    """The ``mixed`` row's second line: p50/p99 per kind of write (the updates to Activated
    also on their own), and the 409s met first."""
    parts = []
    for kind in ("create", "update", "to Activated", "delete"):
        ms = [x * 1000 for x in res.by_kind.get(kind, [])]
        of = "of which " if kind == "to Activated" else ""
        parts.append(f"{of}{kind} {len(ms)} p50/p99 {_pct(ms, 50):.1f}/{_pct(ms, 99):.1f} ms")
    line = f"  {', '.join(parts)}; 409 first: {res.first_409} of {len(res.latencies)} writes"
    if res.reasons:
        line += " (missing: " + "; ".join(f"{n} x {r}" for r, n in res.reasons.most_common()) + ")"
    return line


SCENARIOS = ("separate", "same-cells", "same-volume", "mixed")
HEADER = (
    f"{'backend':<11}{'scenario':<13}{'clients':>8}{'offered':>8}{'writes/s':>10}{'p50 ms':>9}"
    f"{'p99 ms':>9}"
    f"{'attempts':>9}{'gave up':>8}{'slow flush':>11}   "
    "cpu % of one core: client/servers/db/other"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--clients", default="10,50")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per row")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of load before measuring, per row"
    )
    parser.add_argument(
        "--paced",
        default="separate:500,same-cells:200",
        help="paced rows after the saturating ones, scenario:writes/s offered by all clients "
        "together as Poisson arrivals ('' for none)",
    )
    parser.add_argument("--processes", type=int, default=2, help="server processes per backend")
    parser.add_argument(
        "--workers", type=int, default=1, help="`sharedsky serve --workers` of each process"
    )
    parser.add_argument("--pg-url", default=None, help="use this PostgreSQL instead of pgserver")
    parser.add_argument(
        "--pg-no-sync-commit",
        action="store_true",
        help="pgserver with synchronous_commit=off (NOT durable; labelled in the output)",
    )
    args = parser.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"--scenarios: unknown {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    clients = [int(x) for x in args.clients.split(",")]
    rows: list[tuple[str, int, float | None]] = [
        (scenario, n, None) for scenario in args.scenarios.split(",") for n in clients
    ]
    for item in filter(None, args.paced.split(",")):
        scenario, _, rate = item.partition(":")
        if scenario not in SCENARIOS or not rate.replace(".", "", 1).isdigit() or not float(rate):
            parser.error(f"--paced: {item!r} is not scenario:writes/s (a positive number)")
        if scenario == "mixed":
            parser.error("--paced: the mixed scenario has saturating rows only")
        if scenario in args.scenarios.split(","):
            rows += [(scenario, n, float(rate)) for n in clients]

    certs = SHARED / "spec" / "test-certs"
    if not certs.is_dir():
        print(f"the shared folder with test certificates is missing: {certs}", file=sys.stderr)
        return 2
    private_key = (certs / "auth2.key").read_bytes()
    work = Path(tempfile.mkdtemp(prefix="sharedsky-bench-"))
    pg = None
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.processes} server process(es) x "
        f"{args.workers} worker(s); {args.warmup:g} s warm-up + {args.duration:g} s per row",
        flush=True,
    )
    print(HEADER, flush=True)
    row_index = 0
    for backend in args.backends.split(","):
        postmaster = None
        pg_log: Path | None = None
        label = backend
        if backend == "sqlite":
            db_url = f"sqlite:///{work / 'bench.sqlite'}"
        else:
            if args.pg_url:
                db_url = args.pg_url
            else:
                import pgserver

                pg = pgserver.get_server(work / "pg", cleanup_mode="stop")
                postmaster = _postmaster_pid(work / "pg")
                pg_log = work / "pg" / "log"
                _log_slow_commits(pg)
                db_url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
                if args.pg_no_sync_commit:
                    pg.psql("ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();")
                    label = "pg-NOSYNC"
        extra = ["--log-level", "warning"]
        if args.workers > 1:
            extra += ["--workers", str(args.workers)]
        servers = [
            ServerProcess(
                db_url,
                [certs / "auth2.pem"],
                log_path=work / f"{backend}-{i}.log",
                extra_args=extra,
            )
            for i in range(args.processes)
        ]
        for s in servers:
            s.start()
        try:
            for scenario, n, rate in rows:
                tokens = [
                    mint_token(
                        private_key,
                        sub=f"bench-{scenario}-{n}-{i}",
                        scopes=["utm.strategic_coordination"],
                    )
                    for i in range(n)
                ]
                row_index += 1
                share = CpuShare(postmaster)
                loop = asyncio.new_event_loop()
                try:
                    share.start()
                    began = time.time()
                    res = loop.run_until_complete(
                        _run(
                            [s.port for s in servers],
                            tokens,
                            scenario,
                            # Every row in its own place: earlier rows' intents (whose OVNs
                            # this row's clients never saw) are not in the way.
                            7.5 + 0.5 * row_index,
                            args.warmup,
                            args.duration,
                            rate,
                        )
                    )
                    cpu = share.stop()
                    flushes = _slow_flushes(pg_log, began + args.warmup, time.time())
                finally:
                    loop.close()
                if res.errors:
                    print(f"  errors: {res.errors[:3]}", file=sys.stderr)
                lat_ms = [x * 1000 for x in res.latencies]
                print(
                    f"{label:<11}{scenario:<13}{n:>8}{'max' if rate is None else f'{rate:g}':>8}"
                    f"{len(lat_ms) / args.duration:>10.0f}"
                    f"{_pct(lat_ms, 50):>9.1f}{_pct(lat_ms, 99):>9.1f}"
                    f"{statistics.fmean(res.attempts) if res.attempts else 0:>9.2f}"
                    f"{res.gave_up:>8}{flushes:>11}   "
                    f"{cpu['client']:.0f}/{cpu['servers']:.0f}/{cpu['db']:.0f}/"
                    f"{cpu['other']:.0f}",
                    flush=True,
                )
                if scenario == "mixed":
                    print(_mixed_line(res), flush=True)
        finally:
            for s in servers:
                s.stop()
        if pg is not None:
            pg.cleanup()
            pg = None
    print(
        "reference DSS (InterUSS, 10 users): separate ~120-150 writes/s, p50 ~20 ms; "
        "same cells 5-25 writes/s, p95 spikes 25-50 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
