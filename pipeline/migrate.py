"""Apply the Alembic migrations (`pipeline migrate`), and bring an empty embedded database up to date.

SQLite is migrated automatically the first time it is used (zero setup); PostgreSQL is migrated
only by `pipeline migrate`, and a run against an unmigrated one says so in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

import migrations
from pipeline.db import metadata
from pipeline.errors import ConfigError
from pipeline.registry import connectors


def alembic_config() -> Config:
    """The core migrations plus every connector's version location (its own Alembic branch)."""
    config = Config()
    core = Path(migrations.__file__).parent
    config.set_main_option("script_location", str(core))
    locations = [str(core / "versions")]
    locations += [str(c.migrations) for c in connectors() if c.migrations is not None]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config


def _run(engine: Engine, action: str, target: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, target)


def upgrade(engine: Engine, target: str = "heads") -> None:
    _run(engine, "upgrade", target)
    if target == "heads":
        create_unversioned_tables(engine)


def unversioned_tables() -> list[sa.Table]:
    """Entity tables of connectors that ship no migrations (a plugin's derived tables)."""
    return [s.table for c in connectors() if c.migrations is None for s in c.streams]


def create_unversioned_tables(engine: Engine) -> None:
    """Create what a migration-less connector declared (never alters an existing table)."""
    tables = unversioned_tables()
    if tables:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=tables, checkfirst=True)


def downgrade(engine: Engine, target: str = "base") -> None:
    """Unversioned connector tables sit on top of every migration: they go first."""
    with engine.begin() as conn:
        metadata.drop_all(conn, tables=unversioned_tables(), checkfirst=True)
    _run(engine, "downgrade", target)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def ensure_schema(engine: Engine) -> None:
    """Migrate an embedded SQLite database automatically; refuse an unmigrated PostgreSQL."""
    current = current_revisions(engine)
    missing = {t.name for t in unversioned_tables()} - table_names(engine)
    if current == head_revisions() and not missing:
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    state = "empty" if not current else f"at revision {', '.join(sorted(current))}"
    raise ConfigError(
        f"the database is {state}, not at the latest schema; run `pipeline migrate` first"
    )


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())
