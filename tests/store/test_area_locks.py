"""Write transactions serialise only where their areas meet (PostgreSQL advisory locks)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest

from sharedsky.errors import StorageError
from sharedsky.geo import cover_outline, parent_cells
from sharedsky.model import LatLng, Polygon
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
