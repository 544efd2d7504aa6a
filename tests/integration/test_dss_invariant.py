"""The invariant that matters most, through real server processes.

No operational intent in state Accepted or Activated is ever created or updated while an
intersecting intent exists whose current OVN the writer did not present.

Eight clients (eight USSs, each its own ``sub``) race creates, updates and deletes of intents that
all intersect (same cells, altitudes and times), through two ``sharedsky serve`` processes on one
PostgreSQL database, and through one process on SQLite. Each client learns the others' OVNs only
as a USS would: from a shared directory that each owner updates *after* the DSS acknowledged its
write, so keys are often stale and the DSS must refuse them.

Two checks:
* history: the server's append-only event table gives the commit order of the writes; replaying
  it (:func:`sharedsky.record.replay_intents`), every acknowledged write must have presented the
  then-current OVN of every other live intent (all of them intersect);
* final state: what the DSS holds equals what the owners were acknowledged, and for every pair of
  live intents the later of the two final writes presented the other's OVN.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sharedsky.model.events import RecordedEvent
from sharedsky.record import replay_intents
from sharedsky.store import open_store
from sharedsky.testing import DssClient, ServerProcess, box_volume, mint_token

pytestmark = pytest.mark.slow

CLIENTS = 8
INTENTS_PER_CLIENT = 2
OPERATIONS_PER_CLIENT = 14
LAT, LNG = 46.5, 7.5


@dataclass
class Write:
    entity_id: str
    ovn: str
    key: frozenset[str]
    version: int


@dataclass
class History:
    lock: threading.Lock = field(default_factory=threading.Lock)
    directory: dict[str, str] = field(default_factory=dict)  # entity -> OVN its USS serves
    writes: dict[str, Write] = field(default_factory=dict)  # new OVN -> acknowledged write
    deletes: dict[str, str] = field(default_factory=dict)  # deleted OVN -> entity
    refused: int = 0
    errors: list[str] = field(default_factory=list)

    def lookup(self, ref: dict[str, Any]) -> str | None:
        with self.lock:
            return self.directory.get(ref["id"])


def _client_run(
    index: int, urls: list[str], token: str, history: History, t0: datetime, seed: int
) -> None:
    rng = random.Random(seed)
    clients = [
        DssClient(url, token, uss_base_url=f"https://uss{index}.example.com") for url in urls
    ]
    mine: dict[str, str | None] = {str(uuid.uuid4()): None for _ in range(INTENTS_PER_CLIENT)}
    try:
        for _ in range(OPERATIONS_PER_CLIENT):
            client = rng.choice(clients)
            entity_id = rng.choice(list(mine))
            ovn = mine[entity_id]
            if ovn is not None and rng.random() < 0.15:
                r = client.delete_operational_intent(entity_id, ovn)
                if r.status_code == 200:
                    with history.lock:
                        history.deletes[ovn] = entity_id
                        history.directory.pop(entity_id, None)
                    mine[entity_id] = None
                else:
                    history.errors.append(f"delete {entity_id}: {r.status_code} {r.text}")
                continue
            top = 100.0 + rng.randrange(0, 60)
            extents = [
                box_volume(
                    LAT + rng.uniform(-0.002, 0.002),
                    LNG + rng.uniform(-0.002, 0.002),
                    0.01,
                    t0,
                    t0 + timedelta(minutes=rng.randrange(20, 40)),
                    0.0,
                    top,
                )
            ]
            outcome = client.plan(
                entity_id, ovn, extents, history.lookup, area=extents[0], max_attempts=6
            )
            if outcome.status in (200, 201):
                ref = outcome.body["operational_intent_reference"]
                write = Write(entity_id, ref["ovn"], frozenset(outcome.key), ref["version"])
                with history.lock:
                    history.writes[ref["ovn"]] = write
                    history.directory[entity_id] = ref["ovn"]
                mine[entity_id] = ref["ovn"]
            elif outcome.status == 409:
                with history.lock:
                    history.refused += 1
            else:
                history.errors.append(f"put {entity_id}: {outcome.status} {outcome.body}")
    finally:
        for c in clients:
            c.close()


def _recorded_events(db_url: str) -> list[RecordedEvent]:
    """The record (the event table) in commit order."""
    store = open_store(db_url, upgrade=False)
    try:
        with store.read() as tx:
            return tx.events()
    finally:
        store.close()


def _replay_history(events: list[RecordedEvent], history: History) -> int:
    """Replay the committed writes in order (:func:`sharedsky.record.replay_intents`) and check
    each presented every live OVN, with what its client was acknowledged.

    Returns the number of operational-intent writes checked.
    """
    replay = replay_intents(events)
    for checked in replay.writes:
        write = history.writes.get(checked.ovn)
        assert write is not None, (
            f"committed write {checked.ovn} of {checked.entity_id} was never acknowledged"
        )
        assert checked.key == write.key, f"the record of {checked.ovn} holds another key"
        # every intent here intersects every other: each live one was required
        assert set(checked.required) == checked.live, checked
    missing = {(w.event_id, w.entity_id, w.ovn): sorted(w.missing) for w in replay.violations}
    assert not missing, f"writes committed without the current OVNs of intents: {missing}"
    return len(replay.writes)


@pytest.mark.parametrize(
    "backend, processes",
    [("sqlite", 1), pytest.param("postgresql", 2, marks=pytest.mark.postgres)],
)
def test_no_intent_accepted_without_current_ovns(
    backend: str, processes: int, request: pytest.FixtureRequest, shared_dir: Path
) -> None:
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    certs = shared_dir / "spec" / "test-certs"
    private_key = (certs / "auth2.key").read_bytes()
    servers = [ServerProcess(db_url, [certs / "auth2.pem"]) for _ in range(processes)]
    for s in servers:
        s.start()
    try:
        urls = [s.url for s in servers]
        history = History()
        t0 = datetime.now(UTC) + timedelta(minutes=5)
        threads = []
        for i in range(CLIENTS):
            token = mint_token(private_key, sub=f"uss{i}", scopes=["utm.strategic_coordination"])
            threads.append(
                threading.Thread(target=_client_run, args=(i, urls, token, history, t0, 1000 + i))
            )
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "clients did not finish"
        assert not history.errors, history.errors[:5]
        assert len(history.writes) >= CLIENTS, "too few writes went through to prove anything"

        # history: replay the committed order
        checked = _replay_history(_recorded_events(db_url), history)
        assert checked == len(history.writes)

        # final state: equals the owners' knowledge; later final write saw the other's OVN
        reader = DssClient(
            urls[0],
            mint_token(private_key, sub="auditor", scopes=["utm.strategic_coordination"]),
        )
        try:
            area = box_volume(LAT, LNG, 0.05, t0, t0 + timedelta(hours=1), 0.0, 500.0)
            final = {ref["id"]: ref for ref in reader.query_operational_intents(area)}
        finally:
            reader.close()
        assert set(final) == set(history.directory)
        finals = [history.writes[ovn] for ovn in history.directory.values()]
        for a in finals:
            assert final[a.entity_id]["version"] == a.version
            for b in finals:
                if a.entity_id < b.entity_id:
                    assert b.ovn in a.key or a.ovn in b.key, (a, b)
    finally:
        for s in servers:
            s.stop()
