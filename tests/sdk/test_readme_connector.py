"""The README's Acme connector, installed as a separate package with a real entry point.

`pipeline connectors` lists it, `pipeline migrate` creates its derived table, `pipeline run` syncs
it from a fake Acme API over real HTTP, and an edit yields exactly one `ticket_edited`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.db import create_engine
from tests.sdk.acme_api import TOKEN, AcmeApi, serve

ROOT = Path(__file__).resolve().parents[2]


def readme_connector() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    [acme] = [b for b in blocks if b.startswith('"""Acme Helpdesk')]
    return acme


def install_plugin(site: Path, code: str) -> None:
    """A package plus its dist-info, as `pip install` would leave them (importlib.metadata reads it)."""
    (site / "acme_connector").mkdir(parents=True)
    (site / "acme_connector" / "__init__.py").write_text(code)
    info = site / "acme_connector-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-connector\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pipeline.connectors]\nacme = acme_connector\n")


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[tuple[AcmeApi, str, dict[str, str]]]:
    install_plugin(tmp_path / "site", readme_connector())
    api = AcmeApi(tickets=5, page_size=2)
    url, stop = serve(api)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)]),
        "ACME_TOKEN": TOKEN,
    }
    yield api, url, env
    stop()


def pipeline_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline.cli", *args]
    return subprocess.run(
        command, check=False, env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_readme_connector_is_at_most_40_lines() -> None:
    assert len(readme_connector().splitlines()) <= 40


def test_plugin_is_listed_migrated_and_synced(
    acme: tuple[AcmeApi, str, dict[str, str]], db_url: str, tmp_path: Path
) -> None:
    api, url, env = acme
    run = ("run", "acme-tickets", "--db", db_url, "--set", f"api_url={url}")

    listed = pipeline_cli(env, tmp_path, "connectors")
    migrated = pipeline_cli(env, tmp_path, "migrate", "--db", db_url)
    first = pipeline_cli(env, tmp_path, *run)
    api.edit("3", status="closed", tags=["b", "a"])
    second = pipeline_cli(env, tmp_path, *run)

    assert "acme-tickets" in listed.stdout
    assert migrated.returncode == 0, migrated.stderr
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert "created 5" in first.stdout
    assert "edited 1" in second.stdout
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT external_id, status FROM acme_tickets")).all()
        events = conn.execute(sa.text("SELECT type FROM event_outbox ORDER BY id")).all()
        edited = conn.execute(
            sa.text("SELECT changed_fields FROM integration_run_items WHERE operation='updated'")
        ).scalar_one()
    engine.dispose()
    assert sorted(rows) == [
        ("1", "open"),
        ("2", "open"),
        ("3", "closed"),
        ("4", "open"),
        ("5", "open"),
    ]
    assert [e[0] for e in events] == ["ticket_created"] * 5 + ["ticket_edited"]
    edited = edited if isinstance(edited, dict) else json.loads(edited)
    assert edited == {"status": {"from": "open", "to": "closed"}}


def test_plugin_without_its_token_is_one_line_naming_the_variable(
    acme: tuple[AcmeApi, str, dict[str, str]], tmp_path: Path
) -> None:
    api, url, env = acme
    env = {k: v for k, v in env.items() if k != "ACME_TOKEN"}

    result = pipeline_cli(env, tmp_path, "run", "acme-tickets", "--set", f"api_url={url}")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: ACME_TOKEN is not set: export it, or run with --sandbox"
    ]
    assert api.calls == 0
