"""Empty databases for the migration tests: a new SQLite file, or on PostgreSQL a database
`pipeline_migrations_test_<pid>` created next to the test database and dropped afterwards (one name
per test session, so sessions running side by side never drop each other's database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import create_engine

PG_URL = os.environ.get("PIPELINE_TEST_POSTGRES_URL")
PG_DATABASE = f"pipeline_migrations_test_{os.getpid()}"


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def empty_postgres() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need PIPELINE_TEST_POSTGRES_URL "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
    url = sa.make_url(PG_URL).set(database=PG_DATABASE)
    engine = create_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    """An empty database (no tables at all) of each dialect."""
    engine: Engine = request.getfixturevalue(f"empty_{request.param}")
    return engine
