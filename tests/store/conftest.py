"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url


@pytest.fixture
def pg_connection(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection (autocommit) to the test database of ``pg_url``, without the
    store: for tests of the driver-level hot path."""
    url = make_url(pg_url)
    with psycopg.connect(
        dbname=url.database,
        user=url.username,
        password=url.password or "",
        host=url.host or url.query.get("host"),
        port=url.port,
        autocommit=True,
    ) as connection:
        yield connection
