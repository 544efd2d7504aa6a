"""PostgreSQL's short write of an Accepted intent without subscriptions, when its area is busy:
decided on a read taken without the area locks, written only if that read is still true once
the locks are its own (``StrategicTx.oir_write_attempt`` / ``write_oir_guarded``).

Each test holds the area's locks from another transaction while the write reads, then lets go;
in between another write may slip in. The write must then be decided again under the locks,
exactly as if it had arrived after the other one: a stale key is refused and nothing of the
refused write is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from sharedsky.errors import AirspaceConflict, Conflict
from sharedsky.geo import cover_volumes
from sharedsky.model import UssAvailabilityState, Volume4D
from sharedsky.model.events import EntityType, RecordedEvent
from sharedsky.model.strategic import SCOPE_AVAILABILITY_ARBITRATION, Caller
from sharedsky.services import StrategicService
from sharedsky.store import Store, open_store
from sharedsky.store.strategic import StrategicTx
from tests.services.conftest import USS1, USS2, FakeClock, new_id, oir_params, vol

pytestmark = pytest.mark.postgres

USS3 = Caller("uss3", USS1.scopes)
ARBITER = Caller("arbiter", frozenset({SCOPE_AVAILABILITY_ARBITRATION}))


@pytest.fixture
def pg_svc(pg_url: str, clock: FakeClock) -> Iterator[tuple[StrategicService, Store]]:
    store = open_store(pg_url)
    yield StrategicService(store, clock=clock), store
    store.close()


class PathSpy:
    """Counts the paths writes take; ``between`` runs once, right after the next attempt's read
    (the area locks of ``hold`` are released first)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.locked_reads = 0
        self.guarded: list[bool] = []  # one per guarded write: did it write?
        self.between: Callable[[], object] | None = None
        self.held: ExitStack | None = None
        attempt = StrategicTx.oir_write_attempt
        context = StrategicTx.oir_write_context
        guarded = StrategicTx.write_oir_guarded

        def spied_attempt(tx: StrategicTx, *args: Any, **kwargs: Any) -> Any:
            result = attempt(tx, *args, **kwargs)
            held, self.held = self.held, None
            if held is not None:
                held.close()
            action, self.between = self.between, None
            if action is not None:
                action()
            return result

        def spied_context(tx: StrategicTx, *args: Any, **kwargs: Any) -> Any:
            self.locked_reads += 1
            return context(tx, *args, **kwargs)

        def spied_guarded(tx: StrategicTx, *args: Any, **kwargs: Any) -> Any:
            result = guarded(tx, *args, **kwargs)
            self.guarded.append(result is not None)
            return result

        monkeypatch.setattr(StrategicTx, "oir_write_attempt", spied_attempt)
        monkeypatch.setattr(StrategicTx, "oir_write_context", spied_context)
        monkeypatch.setattr(StrategicTx, "write_oir_guarded", spied_guarded)

    def hold(self, store: Store, volume: Volume4D) -> None:
        """Hold the area locks of ``volume`` (another transaction) until the next attempt has
        read."""
        cells = cover_volumes([volume], "extents")[0]
        stack = ExitStack()
        tx = stack.enter_context(store.write())
        tx.lock_area(cells)
        self.held = stack


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[PathSpy]:
    spy = PathSpy(monkeypatch)
    yield spy
    if spy.held is not None:
        spy.held.close()


def _ovn_of(store: Store, entity_id: str) -> str | None:
    with store.read() as tx:
        rec = tx.get_oir(entity_id)
    return rec.ovn if rec else None


def _events(store: Store, entity_id: str) -> list[RecordedEvent]:
    with store.read() as tx:
        return tx.events(EntityType.OPERATIONAL_INTENT_REFERENCE, entity_id)


def test_free_areas_lock_at_once_and_busy_ones_write_guarded(
    pg_svc: tuple[StrategicService, Store], spy: PathSpy
) -> None:
    svc, store = pg_svc
    a, b = new_id(), new_id()
    created, _ = svc.put_operational_intent(a, None, oir_params(vol()), USS1)
    updated, _ = svc.put_operational_intent(a, created.ovn, oir_params(vol(hi=150.0)), USS1)
    assert updated.version == 2 and updated.ovn != created.ovn
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(b, None, oir_params(vol()), USS2)
    assert [o.id for o in refused.value.missing_operational_intents] == [a]
    assert spy.locked_reads == 0 and spy.guarded == []
    # Busy area, nothing changes meanwhile: the guarded write goes through.
    spy.hold(store, vol())
    neighbour, _ = svc.put_operational_intent(b, None, oir_params(vol(), key=(updated.ovn,)), USS2)
    assert spy.guarded == [True] and spy.locked_reads == 0
    (event,) = _events(store, b)  # the guarded write's event, from the record's row form
    assert (event.operation, event.actor, event.claimed_time) == ("create", "uss2", None)
    assert event.payload["ovn"] == neighbour.ovn and event.payload["key"] == [updated.ovn]
    spy.hold(store, vol())
    again, _ = svc.put_operational_intent(
        a, updated.ovn, oir_params(vol(lo=10.0), key=(neighbour.ovn,)), USS1
    )
    assert spy.guarded == [True, True] and spy.locked_reads == 0
    assert _ovn_of(store, a) == again.ovn and _ovn_of(store, b) == neighbour.ovn
    # Guarded writes again and again, then ordinary ones, on the same connections.
    for hi in (160.0, 170.0, 180.0, 190.0, 200.0, 210.0):
        if hi < 190.0:
            spy.hold(store, vol())
        again, _ = svc.put_operational_intent(
            a, again.ovn, oir_params(vol(hi=hi), key=(neighbour.ovn,)), USS1
        )
    assert spy.guarded == [True] * 5 and spy.locked_reads == 0
    assert _ovn_of(store, a) == again.ovn


def test_a_neighbour_updated_after_the_read_refuses_the_stale_key(
    pg_svc: tuple[StrategicService, Store], spy: PathSpy
) -> None:
    svc, store = pg_svc
    a, b = new_id(), new_id()
    neighbour, _ = svc.put_operational_intent(b, None, oir_params(vol()), USS2)
    spy.hold(store, vol())
    spy.between = lambda: svc.put_operational_intent(
        b, neighbour.ovn, oir_params(vol(hi=130.0)), USS2
    )
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(a, None, oir_params(vol(), key=(neighbour.ovn,)), USS1)
    assert [o.id for o in refused.value.missing_operational_intents] == [b]
    assert spy.guarded == [False] and spy.locked_reads == 1
    assert _ovn_of(store, a) is None
    assert _events(store, a) == []  # no event for the write that did not happen


def test_a_new_intersecting_intent_after_the_read_is_missing_from_the_key(
    pg_svc: tuple[StrategicService, Store], spy: PathSpy
) -> None:
    svc, store = pg_svc
    a, c = new_id(), new_id()
    mine, _ = svc.put_operational_intent(a, None, oir_params(vol()), USS1)
    spy.hold(store, vol())
    spy.between = lambda: svc.put_operational_intent(
        c, None, oir_params(vol(), key=(mine.ovn,)), USS3
    )
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(a, mine.ovn, oir_params(vol(hi=140.0)), USS1)
    assert [o.id for o in refused.value.missing_operational_intents] == [c]
    assert spy.guarded == [False] and spy.locked_reads == 1
    assert _ovn_of(store, a) == mine.ovn


def test_the_intent_itself_changed_after_the_read(
    pg_svc: tuple[StrategicService, Store], spy: PathSpy
) -> None:
    svc, store = pg_svc
    a = new_id()
    first, _ = svc.put_operational_intent(a, None, oir_params(vol()), USS1)
    second: list[str] = []

    def other_request_of_the_same_uss() -> None:
        done, _ = svc.put_operational_intent(a, first.ovn, oir_params(vol(hi=110.0)), USS1)
        second.append(done.ovn)

    spy.hold(store, vol())
    spy.between = other_request_of_the_same_uss
    with pytest.raises(Conflict, match="not the current OVN"):
        svc.put_operational_intent(a, first.ovn, oir_params(vol(hi=140.0)), USS1)
    assert spy.guarded == [False] and spy.locked_reads == 1
    assert _ovn_of(store, a) == second[0]


def test_availability_changed_after_the_read(
    pg_svc: tuple[StrategicService, Store], spy: PathSpy
) -> None:
    svc, store = pg_svc
    a, b = new_id(), new_id()
    neighbour, _ = svc.put_operational_intent(b, None, oir_params(vol()), USS2)
    down = svc.set_uss_availability("uss2", "", UssAvailabilityState.DOWN, ARBITER)
    # uss2 is Down: its Accepted intent needs no key, unless uss2 comes back meanwhile.
    spy.hold(store, vol())
    spy.between = lambda: svc.set_uss_availability(
        "uss2", down.version, UssAvailabilityState.NORMAL, ARBITER
    )
    with pytest.raises(AirspaceConflict) as refused:
        svc.put_operational_intent(a, None, oir_params(vol()), USS1)
    assert [o.id for o in refused.value.missing_operational_intents] == [b]
    assert spy.guarded == [False] and spy.locked_reads == 1
    assert _ovn_of(store, a) is None
    assert _ovn_of(store, b) == neighbour.ovn
