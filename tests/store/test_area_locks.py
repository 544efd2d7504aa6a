"""Write transactions serialise only where their areas meet (PostgreSQL advisory locks)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sharedsky.errors import StorageError
from sharedsky.geo import cover_outline, parent_cells
from sharedsky.model import LatLng, Polygon
from sharedsky.model.events import EntityType, Event, Operation
from sharedsky.store import Store, TransientStorageError, open_store


def _cells(lat: float, lng: float) -> frozenset[int]:
    return cover_outline(
        Polygon((LatLng(lat, lng), LatLng(lat, lng + 0.01), LatLng(lat + 0.01, lng)))
    )


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    yield s
    s.close()


def _time_to_lock(store: Store, cells: frozenset[int], done: threading.Event) -> threading.Thread:
    def run() -> None:
        with store.write() as tx:
            tx.lock_area(cells)
        done.set()

    th = threading.Thread(target=run)
    th.start()
    return th


@pytest.mark.postgres
def test_writers_in_the_same_area_wait_and_others_do_not(pg_store: Store) -> None:
    here = _cells(46.0, 7.0)
    near = _cells(46.001, 7.001)  # shares level-13 cells with `here`
    far = _cells(47.0, 8.0)
    assert here & near and not set(parent_cells(here)) & set(parent_cells(far))
    release = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with pg_store.write() as tx:
            assert tx.lock_area(here) == parent_cells(here)
            holding.set()
            release.wait(10)

    h = threading.Thread(target=holder)
    h.start()
    assert holding.wait(10)
    far_done, near_done = threading.Event(), threading.Event()
    t_far = _time_to_lock(pg_store, far, far_done)
    t_near = _time_to_lock(pg_store, near, near_done)
    assert far_done.wait(5), "a writer in an unrelated area waited"
    time.sleep(0.3)
    assert not near_done.is_set(), "a writer in the same area did not wait"
    release.set()
    assert near_done.wait(5)
    for th in (h, t_far, t_near):
        th.join()


def test_sqlite_writers_hold_the_database_lock_from_the_start(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        with store.read():
            other.execute("BEGIN IMMEDIATE")  # readers do not block a writer
            other.execute("ROLLBACK")
        with store.write() as tx:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            assert tx.lock_area(_cells(46.0, 7.0)) == parent_cells(_cells(46.0, 7.0))
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
        store.close()


@pytest.mark.postgres
def test_a_writer_waiting_too_long_fails_cleanly(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sharedsky.store.engine as engine_module

    monkeypatch.setattr(engine_module, "PG_LOCK_TIMEOUT_MS", 300)
    store = open_store(pg_url)
    try:
        here = _cells(46.0, 7.0)
        release, holding = threading.Event(), threading.Event()

        def holder() -> None:
            with store.write() as tx:
                tx.lock_area(here)
                holding.set()
                release.wait(10)

        h = threading.Thread(target=holder)
        h.start()
        assert holding.wait(10)
        started = time.perf_counter()
        with pytest.raises(StorageError) as info, store.write() as tx:
            tx.lock_area(here)
        assert not isinstance(info.value, TransientStorageError)
        assert time.perf_counter() - started < 5
        release.set()
        h.join()
    finally:
        store.close()


@pytest.mark.postgres
def test_try_lock_more_never_waits(pg_store: Store) -> None:
    here = _cells(46.0, 7.0)
    far = _cells(47.0, 8.0)
    release = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with pg_store.write() as tx:
            tx.lock_area(here)
            holding.set()
            release.wait(10)

    h = threading.Thread(target=holder)
    h.start()
    try:
        assert holding.wait(10)
        with pg_store.write() as tx:
            started = time.monotonic()
            assert tx.try_lock_more(parent_cells(far)) is True
            assert tx.try_lock_more(parent_cells(here)) is False
            assert time.monotonic() - started < 2.0
    finally:
        release.set()
        h.join(10)
    with pg_store.write() as tx:
        assert tx.try_lock_more(parent_cells(here)) is True


def test_sqlite_writer_waits_for_another_process_then_writes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sharedsky.store.engine as engine_module

    store = open_store(sqlite_url)
    other = sqlite3.connect(
        sqlite_url.removeprefix("sqlite:///"),
        timeout=0,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock for 0.3 s
        threading.Timer(0.3, lambda: other.execute("ROLLBACK")).start()
        started = time.perf_counter()
        now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        with store.write() as tx:
            tx.append_event(Event(EntityType.REPORT, "r1", Operation.CREATE, "uss1", {}, now))
        waited = time.perf_counter() - started
        assert 0.25 < waited < 2.0
        with store.read() as tx:
            assert [e.entity_id for e in tx.events()] == ["r1"]

        monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StorageError, match="busy"), store.write() as tx:
            tx.append_event(Event(EntityType.REPORT, "r2", Operation.CREATE, "uss1", {}, now))
        other.execute("ROLLBACK")
        with store.read() as tx:
            assert [e.entity_id for e in tx.events()] == ["r1"]
    finally:
        other.close()
        store.close()


def test_sqlite_writers_of_one_process_queue_in_turn(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for n in range(20):
                with store.write() as tx:
                    tx.append_event(
                        Event(EntityType.REPORT, f"r{k}-{n}", Operation.CREATE, f"uss{k}", {}, now)
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors
        with store.read() as tx:
            assert len(tx.events()) == 160
    finally:
        store.close()


@pytest.mark.postgres
def test_the_delete_of_an_intent_locks_the_area_it_covers(pg_store: Store) -> None:
    """The server computes the keys from the intent's cells: the same parents as
    :func:`parent_cells` (two areas apart, hence several parents), and no others."""
    from sharedsky.store.records import OirRecord

    cells = _cells(46.0, 7.0) | _cells(46.3, 7.4)
    parents = parent_cells(cells)
    assert len(parents) > 1
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    intent = OirRecord(
        id="i1",
        manager="uss1",
        version=1,
        state="Accepted",
        ovn="o" * 20,
        uss_base_url="https://uss1.example.com",
        subscription_id=None,
        altitude_lower_m=0.0,
        altitude_upper_m=120.0,
        time_start=t0,
        time_end=t0,
        updated=t0,
        cells=cells,
    )
    with pg_store.write() as tx:
        tx.save_oir(intent, None)
    release = threading.Event()
    holding = threading.Event()
    read: list[object] = []

    def holder() -> None:
        with pg_store.write() as tx:
            read.append(tx.oir_delete_context("i1", "uss1"))
            holding.set()
            release.wait(10)

    h = threading.Thread(target=holder)
    h.start()
    try:
        assert holding.wait(10)
        assert read == [(intent, None, None, [])]
        with pg_store.write() as tx:
            for parent in parents:
                assert tx.try_lock_more([parent]) is False
            assert tx.try_lock_more(parent_cells(_cells(47.0, 8.0))) is True
            neighbours = {p + d for p in parents for d in (-(1 << 41), 1 << 41)} - set(parents)
            assert tx.try_lock_more(neighbours) is True
    finally:
        release.set()
        h.join(10)
