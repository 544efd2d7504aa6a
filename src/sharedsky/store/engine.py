"""Opening a store: engine settings per backend, transactions, migrations, error translation.

* **SQLite** (default): WAL journal, ``busy_timeout``, foreign keys on, ``synchronous=NORMAL``.
  The driver's own transaction handling is switched off; read transactions start with ``BEGIN``
  and write transactions with ``BEGIN IMMEDIATE``, so writers serialise on the database lock
  from their first statement and never fail half-way with ``SQLITE_BUSY`` on upgrade.
* **PostgreSQL** (``postgresql+psycopg://``): READ COMMITTED; write transactions serialise only
  where their areas meet, through transaction-scoped advisory locks on coarse S2 cells
  (:meth:`sharedsky.store.strategic.StrategicTx.lock_area`).

Migrations (Alembic, shipped in ``sharedsky/store/migrations``) run to head in
:func:`open_store`, inside one transaction; on PostgreSQL under an advisory lock so that several
processes starting at once migrate one after the other.

SQLAlchemy and driver errors never leave this package: they become
:class:`~sharedsky.errors.StorageError` or, for failures worth retrying (deadlock,
serialisation failure, a unique or foreign key clash with a concurrent writer),
:class:`TransientStorageError`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError

from sharedsky.errors import InvalidInput, StorageError
from sharedsky.store.strategic import StrategicTx

__all__ = ["Store", "TransientStorageError", "open_store"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 16
POOL_OVERFLOW = 8
"""Connections kept open per process (the size of the HTTP layer's worker thread pool,
:data:`sharedsky.api.app.WORKER_THREADS`) plus a few more that are closed after use (for other
threads, e.g. the live service). A connection beyond ``POOL_SIZE`` costs a new database session
(a process on PostgreSQL) per transaction, so the pool must cover the threads that use it. Four
processes stay under PostgreSQL's default ``max_connections`` of 100."""
_MIGRATION_LOCK_KEY = 0x5348_5353_4B59  # "SHSSKY": serialises migrations across processes
_RETRYABLE_PG_CODES = frozenset({"40001", "40P01", "23505", "23503", "26000"})
"""Serialisation failure, deadlock, unique and foreign key clashes with a concurrent writer, and
a hot-path statement that psycopg's rollback deallocated (:mod:`sharedsky.store.pg_batch`
prepares it again on the retry)."""
PG_LOCK_TIMEOUT_MS = 10_000
"""A PostgreSQL writer waiting longer than this for an area or row lock fails (503)."""
_WRITE_OPTION = "sharedsky_write"


class TransientStorageError(StorageError):
    """A failure caused by concurrent writers; the whole transaction may simply be retried."""


def _sqlite_busy(detail: object) -> StorageError:
    """SQLite's write lock was not ours within the busy timeout (not retried: the caller has
    waited long enough)."""
    return StorageError(f"database busy for {SQLITE_BUSY_TIMEOUT_MS / 1000:g} s: {detail}")


def _translate(exc: SQLAlchemyError | psycopg.Error) -> StorageError:
    if isinstance(exc, psycopg.Error):  # from the driver-level hot path (PostgreSQL)
        if exc.sqlstate in _RETRYABLE_PG_CODES:
            return TransientStorageError(f"concurrent write clashed: {exc}")
        return StorageError(f"database error: {exc}")
    if isinstance(exc, IntegrityError):
        return TransientStorageError(f"concurrent write clashed: {exc.orig}")
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code in _RETRYABLE_PG_CODES:
            return TransientStorageError(f"concurrent write clashed: {orig}")
        message = str(orig).lower()
        if "database is locked" in message or "database is busy" in message:
            # Only after the whole busy timeout: retrying would keep the caller waiting longer.
            return _sqlite_busy(orig)
        return StorageError(f"database error: {orig}")
    return StorageError(f"database error: {exc}")


def _rollback_keeping_prepared(conn: Connection) -> None:
    """Roll back the open PostgreSQL transaction of ``conn`` at the protocol level.

    psycopg forgets every prepared statement of a connection (and sends ``DEALLOCATE ALL``)
    when it rolls a transaction back, in case the transaction created or dropped objects that
    the statements name. Our transactions never change the schema outside migrations, and a
    refused write (a 409 for a stale key, most often) ends in a rollback, so that caution made
    every attempt after a refusal parse and plan the hot-path statements again: under
    contention, a good part of the database's CPU. Sending ``ROLLBACK`` through libpq leaves
    the statements prepared; psycopg then finds the connection idle and has nothing to do.
    Anything unusual (a command still running, a broken connection) is left to the normal
    rollback."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        return
    pgconn = driver.pgconn
    status = pgconn.transaction_status
    if status not in (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR):
        return
    with suppress(psycopg.Error):  # a broken connection: the normal rollback reports it
        pgconn.exec_(b"ROLLBACK")


def _end_explicit_begin(conn: Connection) -> None:
    """After a PostgreSQL transaction that the hot path opened with an explicit ``BEGIN`` (see
    ``StrategicTx.oir_write_context``), give the connection back to psycopg's own transaction
    handling. A connection left inside a transaction block cannot go back to the pool."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection) or not driver.autocommit:
        return
    if driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        driver.autocommit = False
    else:
        conn.invalidate()


class Store:
    """An open database: the engine plus transactions handing out :class:`StrategicTx`.

    Build with :func:`open_store`; call :meth:`close` when done.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.dialect: str = engine.dialect.name
        # SQLite has one writer at a time. Writers of this process queue here rather than in
        # SQLite's busy handler, which polls with growing sleeps (up to 100 ms) and lets a
        # newcomer overtake a writer that is asleep: hundreds of milliseconds of p99 with ten
        # concurrent writers. Other processes still meet the busy handler.
        self._sqlite_writer = threading.RLock() if self.dialect == "sqlite" else None

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        queue = self._sqlite_writer if write else None
        if queue is not None and not queue.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000.0):
            raise _sqlite_busy("another write of this process is still running")
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{_WRITE_OPTION: True})
                try:
                    with conn.begin():
                        try:
                            yield conn
                        except BaseException:
                            if self.dialect == "postgresql":
                                _rollback_keeping_prepared(conn)
                            raise
                finally:
                    if self.dialect == "postgresql":
                        _end_explicit_begin(conn)
        except (SQLAlchemyError, psycopg.Error) as exc:
            raise _translate(exc) from exc
        finally:
            if queue is not None:
                queue.release()

    @contextmanager
    def read(self) -> Iterator[StrategicTx]:
        """A read-only transaction (a consistent snapshot on SQLite, READ COMMITTED on PG)."""
        with self._transaction(write=False) as conn:
            yield StrategicTx(conn)

    @contextmanager
    def read_one_statement(self) -> Iterator[StrategicTx]:
        """For a read that is a single statement: on PostgreSQL without transaction (the
        statement is its own READ COMMITTED snapshot), which saves the BEGIN and COMMIT round
        trips; on SQLite the same as :meth:`read`."""
        if self.dialect != "postgresql":
            with self.read() as tx:
                yield tx
            return
        try:
            with self._engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.autocommit = True
                try:
                    yield StrategicTx(conn)
                finally:
                    driver.autocommit = False
        except (SQLAlchemyError, psycopg.Error) as exc:
            raise _translate(exc) from exc

    @contextmanager
    def write(self) -> Iterator[StrategicTx]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        On SQLite it holds the database write lock from the start (``BEGIN IMMEDIATE``); on
        PostgreSQL call :meth:`StrategicTx.lock_area` before reading what the write depends on.
        """
        with self._transaction(write=True) as conn:
            yield StrategicTx(conn)

    def upgrade(self) -> None:
        """Run the migrations up to head (idempotent)."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                        )
                    cfg = Config()
                    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (``None`` for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self._engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            raise _translate(exc) from exc


_SQLITE_BEGIN_POLL_S = 0.0005


def _begin_immediate(dbapi_conn: Any) -> None:
    """``BEGIN IMMEDIATE`` on SQLite, waiting for the database's write lock (held by another
    process) in short steps of our own. SQLite's busy handler sleeps 1, 2, 5, 10 ... up to 100 ms
    between tries, so a writer could sleep through most of the time the lock was free; here the
    handler is allowed 1 ms per try and the wait goes on in 0.5 ms steps, up to the usual busy
    timeout. Writers of the same process never meet here at once (``Store`` queues them)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000.0
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout=1")
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                message = str(exc).lower()
                if "locked" not in message and "busy" not in message:
                    raise StorageError(f"database error: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise _sqlite_busy(exc) from exc
            time.sleep(_SQLITE_BEGIN_POLL_S)
    finally:
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000.0, "check_same_thread": False},
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        if write:
            _begin_immediate(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Open the database at ``url`` and (by default) migrate it to the newest schema.

    ``url`` is an SQLAlchemy URL: ``sqlite:///path.sqlite`` or
    ``postgresql+psycopg://user:pass@host/db`` (``postgresql://`` is taken as psycopg 3).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"not a database URL: {exc}", "db") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise InvalidInput(
                    "an in-memory SQLite database cannot be shared; give a file", "db"
                )
            engine = _sqlite_engine(parsed.render_as_string(hide_password=False))
        elif backend == "postgresql":
            engine = create_engine(
                parsed,
                pool_size=POOL_SIZE,
                max_overflow=POOL_OVERFLOW,
                # No ping per checkout (a round trip per transaction): a connection the server
                # dropped fails its transaction once (503) and the pool is renewed.
                isolation_level="READ COMMITTED",
                connect_args={"options": f"-c lock_timeout={PG_LOCK_TIMEOUT_MS}"},
            )
        else:
            raise InvalidInput(f"unsupported database backend {backend!r}", "db")
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open database: {exc}") from exc
    store = Store(engine)
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
    return store
