"""Shared fixtures: the `db` fixture runs each test on SQLite and on PostgreSQL.

PostgreSQL is used when `PIPELINE_TEST_POSTGRES_URL` is set, and skipped with a visible reason
when it is not. Each test gets a freshly migrated schema (SQLite: a copy of a migrated template
file; PostgreSQL: the migrated schema, truncated).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.db import create_engine, metadata
from pipeline.http.clock import FakeClock
from pipeline.migrate import upgrade
from pipeline.testing import Db, test_metadata

PG_URL = os.environ.get("PIPELINE_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    test_metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A schema of its own for this test session (so parallel sessions never collide), as a URL."""
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need PIPELINE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    schema = f"pipeline_test_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(pg_url)
    upgrade(engine)
    test_metadata.create_all(engine)
    yield engine
    engine.dispose()


def _truncate(engine: sa.Engine) -> None:
    names = ", ".join([*metadata.tables, *test_metadata.tables])
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def sqlite_url(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "pipeline.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database URL of each dialect."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path, sqlite_template)
    engine = request.getfixturevalue("pg_engine")
    _truncate(engine)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(db_url: str, clock: FakeClock) -> Iterator[Db]:
    engine = create_engine(db_url)
    yield Db(engine, clock)
    engine.dispose()
