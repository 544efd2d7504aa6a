"""Fixtures shared by the whole suite.

* ``shared_dir``: the project's ``../shared`` folder (briefs, spec, real recordings).
* ``pg_server_url``: a real PostgreSQL for the session: ``SHAREDSKY_TEST_PG_URL`` if set, else one
  started from the ``pgserver`` wheel in a temporary folder.
* ``pg_url``: a fresh, empty database on that server for one test (``new_pg_database`` for
  fixtures wider than one test).
* ``sqlite_url``: a fresh SQLite file for one test.
* ``db_url``: parametrised over both backends; tests that use it run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    env = os.environ.get("SHAREDSKY_SHARED_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared"


SHARED_DIR = _find_shared()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.fail(f"the shared folder is missing: {SHARED_DIR} (set SHAREDSKY_SHARED_DIR)")
    return SHARED_DIR


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL (SQLAlchemy form, psycopg 3) of a PostgreSQL server's maintenance database.

    The data folder lives outside pytest's temporary tree: when run as root, PostgreSQL runs as
    another system user that must traverse the folder's parents, and pytest keeps its own tree
    private (and prunes it when other pytest runs start).
    """
    given = os.environ.get("SHAREDSKY_TEST_PG_URL")
    if given:
        yield given
        return
    import pgserver

    data = Path(tempfile.mkdtemp(prefix="sharedsky-test-pg-"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/path/to/socket
        yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def new_pg_database(pg_server_url: str) -> Callable[[], AbstractContextManager[str]]:
    """``with new_pg_database() as url``: a fresh database on the session's PostgreSQL server,
    dropped at the end of the block (for fixtures wider than one test)."""
    from sqlalchemy import create_engine, text

    @contextmanager
    def database() -> Iterator[str]:
        name = "t_" + uuid.uuid4().hex[:16]
        admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield _with_database(pg_server_url, name)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return database


@pytest.fixture
def pg_url(new_pg_database: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server, dropped after the test."""
    with new_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sharedsky.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")
