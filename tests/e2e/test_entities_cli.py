"""`pipeline entities` and `pipeline entities show` on a synced Slack sandbox (subprocess, exact lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.slack.sandbox import Sandbox
from pipeline.db import create_engine
from pipeline.http.clock import FakeClock
from pipeline.testing import Db
from tests.conftest import sqlite_url
from tests.connectors.slack.conftest import live_messages, sync
from tests.e2e.shell import one_line, pipeline


@pytest.fixture
def synced(tmp_path: Path, sqlite_template: Path) -> tuple[str, str, str]:
    """A synced workspace in which one message of #general was then edited and synced again."""
    url = sqlite_url(tmp_path, sqlite_template)
    clock = FakeClock()
    sandbox = Sandbox(0, clock=clock.now, messages_per_channel=20)
    general = sandbox.channel("general")
    engine = create_engine(url)
    db = Db(engine, clock)
    with sandbox.serving() as api:
        sync(db, api, clock)
        plain = [  # the newest plain message: inside the next run's lookback window
            k
            for k, m in live_messages(sandbox).items()
            if k.startswith(general) and not {"thread_ts", "subtype", "edited"} & m.keys()
        ]
        key = max(plain, key=lambda k: k.split(":")[1])
        sandbox.workspace.edit(general, key.split(":")[1], "edited by hand")
        clock.advance(60)
        sync(db, api, clock)
    engine.dispose()
    return url, general, key


def test_entities_lists_the_records_matching_a_field(
    synced: tuple[str, str, str], tmp_path: Path
) -> None:
    url, general, _ = synced

    done = pipeline(
        "entities",
        "slack-messages",
        "--where",
        f"channel={general}",
        "--limit",
        "3",
        "--json",
        "--db",
        url,
        cwd=tmp_path,
    )

    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(rows) == 3
    assert {r["data"]["channel"] for r in rows} == {general}


def test_entities_show_prints_the_record_and_its_history_of_changes(
    synced: tuple[str, str, str], tmp_path: Path
) -> None:
    url, _, key = synced

    done = pipeline("entities", "show", "slack-messages", key, "--db", url, cwd=tmp_path)

    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0].startswith(f"{key}  (tenant default, entity id ")
    history = lines[lines.index("history (oldest first):") + 1 :]
    assert [line.split()[2] for line in history if not line.startswith(" ")] == [
        "created",
        "updated",
    ]
    assert any(
        line.startswith("    text: ") and line.endswith(' → "edited by hand"') for line in history
    )


def test_an_unknown_field_is_one_line_naming_the_fields(
    synced: tuple[str, str, str], tmp_path: Path
) -> None:
    done = pipeline(
        "entities", "slack-messages", "--where", "colour=red", "--db", synced[0], cwd=tmp_path
    )

    assert done.returncode == 2
    assert one_line(done).startswith("error: slack-messages has no field 'colour'; fields: ")
