"""Apply the Alembic migrations (`pipeline migrate`), and bring an empty embedded database up to date.

SQLite is migrated automatically the first time it is used (zero setup); PostgreSQL is migrated
only by `pipeline migrate`, and a run against an unmigrated one says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

import migrations
from pipeline.errors import ConfigError


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def _run(engine: Engine, action: str, target: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, action)(config, target)


def upgrade(engine: Engine, target: str = "head") -> None:
    _run(engine, "upgrade", target)


def downgrade(engine: Engine, target: str = "base") -> None:
    _run(engine, "downgrade", target)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_schema(engine: Engine) -> None:
    """Migrate an embedded SQLite database automatically; refuse an unmigrated PostgreSQL."""
    current = current_revision(engine)
    if current == head_revision():
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    state = "empty" if current is None else f"at revision {current}"
    raise ConfigError(
        f"the database is {state}, not at the latest schema; run `pipeline migrate` first"
    )


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())
