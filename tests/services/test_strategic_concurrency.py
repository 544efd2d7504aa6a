"""The invariant under concurrent writers (threads on one service, both backends).

No intent in state Accepted or Activated is created or updated while an intersecting intent
exists whose current OVN the writer did not present. Eight clients race creates, updates and
deletes of intents into the same few cells, each running the full client loop (query, read the
OVNs from the managing USS, put, retry on 409). Afterwards two checkers run:

* over the final state, with the acknowledged history: of any two intersecting intents, the one
  written last must have presented the other's final OVN;
* over the event log (written in the same transaction as each write, hence in commit order for
  writes whose areas meet): replaying it, every Accepted/Activated write had in its key the
  current OVN of every intersecting intent of that moment; and the log holds exactly the
  acknowledged writes.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from sharedsky.errors import AirspaceConflict
from sharedsky.geo import cover_outline
from sharedsky.model import (
    Caller,
    NewSubscription,
    OperationalIntentState,
    PutOperationalIntent,
    Volume4D,
)
from sharedsky.model.strategic import SCOPE_STRATEGIC_COORDINATION
from sharedsky.services import StrategicService
from sharedsky.store import Store
from tests.services.conftest import T0, FakeClock, box, new_id

CLIENTS = 8
WRITES_PER_CLIENT = 8
ACTIVE = {OperationalIntentState.ACCEPTED.value, OperationalIntentState.ACTIVATED.value}


@dataclass(frozen=True)
class Ack:
    """A write the service acknowledged."""

    client: int
    op: str
    entity_id: str
    ovn: str
    key: frozenset[str]
    volume: Volume4D | None
    state: str


def _random_volume(rng: random.Random) -> Volume4D:
    # A 3 x 3 grid of ~0.7 km boxes, two altitude bands, two time windows: many intersect.
    i, j = rng.randrange(3), rng.randrange(3)
    lo = rng.choice([0.0, 100.0])
    start = T0 + timedelta(minutes=rng.choice([0, 45]))
    return Volume4D(
        box(46.0 + 0.006 * i, 7.0 + 0.009 * j, 0.006),
        lo,
        lo + 150.0,
        start,
        start + timedelta(hours=1),
    )


def _intersect(a: dict, b: dict) -> bool:
    return (
        bool(a["cells"] & b["cells"])
        and a["lo"] <= b["hi"]
        and b["lo"] <= a["hi"]
        and a["start"] <= b["end"]
        and b["start"] <= a["end"]
    )


def _race(svc: StrategicService, seed: int) -> list[Ack]:
    details: dict[str, str] = {}  # what each managing USS would answer: entity -> current OVN
    details_lock = threading.Lock()
    acks: list[Ack] = []
    acks_lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)
    failures: list[BaseException] = []

    def client(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        caller = Caller(f"uss{n}", frozenset({SCOPE_STRATEGIC_COORDINATION}))
        mine: dict[str, str] = {}  # own entity -> current OVN
        barrier.wait()
        try:
            for _ in range(WRITES_PER_CLIENT):
                roll = rng.random()
                if mine and roll < 0.15:
                    eid = rng.choice(sorted(mine))
                    ref, _ = svc.delete_operational_intent(eid, mine.pop(eid), caller)
                    with details_lock:
                        details.pop(eid, None)
                    with acks_lock:
                        acks.append(Ack(n, "delete", eid, ref.ovn or "", frozenset(), None, ""))
                    continue
                update = bool(mine) and roll < 0.55
                eid = rng.choice(sorted(mine)) if update else new_id()
                volume = _random_volume(rng)
                state = OperationalIntentState.ACCEPTED
                sub = None
                if update and rng.random() < 0.5:
                    state = OperationalIntentState.ACTIVATED
                    sub = NewSubscription(f"https://uss{n}")
                for _attempt in range(200):
                    seen = svc.query_operational_intents(volume, caller)
                    with details_lock:
                        key = frozenset(details[r.id] for r in seen if r.id in details)
                    params = PutOperationalIntent(
                        (volume,), tuple(sorted(key)), state, f"https://uss{n}", None, sub
                    )
                    try:
                        ref, _ = svc.put_operational_intent(
                            eid, mine.get(eid) if update else None, params, caller
                        )
                    except AirspaceConflict:
                        threading.Event().wait(rng.uniform(0, 0.003))
                        continue
                    assert ref.ovn is not None
                    mine[eid] = ref.ovn
                    with details_lock:
                        details[eid] = ref.ovn
                    with acks_lock:
                        acks.append(
                            Ack(
                                n,
                                "update" if update else "create",
                                eid,
                                ref.ovn,
                                key,
                                volume,
                                state.value,
                            )
                        )
                    break
                else:
                    raise AssertionError(f"client {n} never got through")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if failures:
        raise failures[0]
    return acks


def _check_event_log(store: Store, acks: list[Ack]) -> dict[str, dict]:
    with store.read() as tx:
        events = tx.events("operational_intent_reference")
    # The log holds exactly the acknowledged writes (nothing lost, nothing phantom).
    acked = sorted((a.op, a.entity_id, a.ovn) for a in acks)
    logged = sorted((e.operation, e.entity_id, e.payload["ovn"]) for e in events)
    assert logged == acked
    by_ovn = {a.ovn: a for a in acks if a.op != "delete"}
    current: dict[str, dict] = {}
    for e in events:
        p = e.payload
        if e.operation == "delete":
            del current[e.entity_id]
            continue
        assert frozenset(p["key"]) == by_ovn[p["ovn"]].key
        entry = {
            "ovn": p["ovn"],
            "state": p["state"],
            "cells": frozenset(p["cells"]),
            "lo": p["altitude_lower_m"],
            "hi": p["altitude_upper_m"],
            "start": datetime.fromisoformat(p["time_start"]),
            "end": datetime.fromisoformat(p["time_end"]),
            "event": e.id,
        }
        if p["state"] in ACTIVE:
            key = set(p["key"])
            for other_id, other in current.items():
                if other_id != e.entity_id and _intersect(entry, other):
                    assert other["ovn"] in key, (
                        f"event {e.id}: {e.entity_id} written without the OVN of {other_id}"
                    )
        current[e.entity_id] = entry
    return current


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_racing_writers_never_skip_an_intersecting_intent(
    db_url: str, seed: int, store: Store
) -> None:
    svc = StrategicService(store, clock=FakeClock())
    acks = _race(svc, seed)
    assert len([a for a in acks if a.op != "delete"]) >= CLIENTS * WRITES_PER_CLIENT * 0.7

    replayed = _check_event_log(store, acks)

    # The final state agrees with the replay ...
    with store.read() as tx:
        final = {o.id: o for o in tx.find_oirs(cover_outline(box(46.0, 7.0, 0.03)))}
    assert {k: v["ovn"] for k, v in replayed.items()} == {k: o.ovn for k, o in final.items()}
    # ... and of two intersecting intents, the later one presented the other's final OVN.
    last_ack = {a.ovn: a for a in acks}
    items = sorted(replayed.items(), key=lambda kv: kv[1]["event"])
    conflicts = 0
    for i, (aid, a) in enumerate(items):
        for bid, b in items[i + 1 :]:
            if _intersect(a, b) and b["state"] in ACTIVE:
                conflicts += 1
                assert a["ovn"] in last_ack[b["ovn"]].key, f"{bid} does not know {aid}"
    assert conflicts > 0  # the race did put intersecting intents side by side
