"""`pipeline migrate --generate CONNECTOR` writes a connector's migration branch from its tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.db import create_engine
from pipeline.migrate import generate, upgrade
from pipeline.registry import get_connector
from tests.sdk import demo_connector  # noqa: F401  (registers the demo connector)


def test_generated_branch_creates_the_declared_table_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = get_connector("demo")
    monkeypatch.setattr(demo, "home", tmp_path)

    path = generate("demo", "demo tickets", tmp_path)
    monkeypatch.setattr(demo, "migrations", path.parent)
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)

    text = path.read_text()
    assert path.parent == tmp_path / "migrations" / "versions"
    assert "create_table('demo_tickets'" in text and "slack_" not in text
    assert "branch_labels = ('demo',)" in text
    columns = {c["name"] for c in sa.inspect(engine).get_columns("demo_tickets")}
    assert {"subject", "status", "seen_generation", "external_id"} <= columns
    engine.dispose()
