"""`pipeline events tail | consumers | purge`: what a user sees on the terminal."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest

from pipeline.durations import duration as parse_duration
from pipeline.errors import ConfigError
from pipeline.events_cli import add_events_parser, format_age, handle_events
from pipeline.testing import Db
from tests.pipeline.test_consumer import sync

Capture = pytest.CaptureFixture[str]


def events(db: Db, capsys: Capture, *argv: str) -> list[str]:
    """Run `pipeline events ARGV…` and return the printed lines."""
    parser = argparse.ArgumentParser(prog="pipeline")
    add_events_parser(parser.add_subparsers(dest="command"))
    assert handle_events(parser.parse_args(["events", *argv]), db.engine, clock=db.clock) == 0
    return capsys.readouterr().out.splitlines()


def test_tail_prints_the_latest_events_one_line_each(db: Db, capsys: Capture) -> None:
    sync(db, "1", "2", "3")

    lines = events(db, capsys, "tail", "--limit", "2")

    assert len(lines) == 2 and all("item_created" in line for line in lines)
    assert [line.split()[6] for line in lines] == ["2", "3"]  # external ids, oldest first
    assert lines[0].endswith("[status,tags,title]")


def test_tail_json_prints_whole_events(db: Db, capsys: Capture) -> None:
    sync(db, "1")

    [line] = events(db, capsys, "tail", "--json")

    event = json.loads(line)
    assert (event["type"], event["aggregatetype"]) == ("item_created", "item")
    assert event["tenant_id"] == "default"
    assert event["payload"]["changedFields"]["title"] == {"from": None, "to": "item 1"}
    assert event["aggregateid"] == event["payload"]["entityId"] and event["event_id"]


def test_tail_as_a_consumer_acknowledges_what_it_printed(db: Db, capsys: Capture) -> None:
    sync(db, "1", "2", "3")

    first = events(db, capsys, "tail", "--consumer", "ops", "--limit", "2")
    second = events(db, capsys, "tail", "--consumer", "ops")
    third = events(db, capsys, "tail", "--consumer", "ops")

    assert (len(first), len(second), third) == (2, 1, [])


def test_tail_follow_as_a_consumer_stops_after_the_limit(db: Db, capsys: Capture) -> None:
    sync(db, "1", "2", "3")

    followed = events(db, capsys, "tail", "--follow", "--consumer", "ops", "--limit", "2", "--json")
    rest = events(db, capsys, "tail", "--consumer", "ops", "--json")

    printed = [json.loads(line)["payload"]["externalId"] for line in followed + rest]
    assert printed == ["1", "2", "3"]


def test_tail_filters_by_type_and_tenant(db: Db, capsys: Capture) -> None:
    sync(db, "a1", tenant="A")
    sync(db, "b1", tenant="B")
    sync(db, "a1", tenant="A", status="closed")

    lines = events(db, capsys, "tail", "--tenant", "A", "--type", "item_edited", "--json")

    [event] = [json.loads(line) for line in lines]
    assert (event["tenant_id"], event["type"]) == ("A", "item_edited")


def test_consumers_shows_position_and_lag(db: Db, capsys: Capture) -> None:
    sync(db, "1", "2", "3")
    events(db, capsys, "tail", "--consumer", "ops", "--limit", "1")
    events(db, capsys, "tail", "--consumer", "audit", "--type", "item_deleted")
    db.clock.advance(7200)

    header, audit, ops = events(db, capsys, "consumers")

    assert header.split() == ["CONSUMER", "POSITION", "UNREAD", "OLDEST", "UNREAD", "FILTERS"]
    assert audit.split()[2:] == ["0", "-", "types=item_deleted"]
    assert ops.split()[2:] == ["2", "2h", "-"]


def test_purge_removes_only_what_every_consumer_acknowledged(db: Db, capsys: Capture) -> None:
    sync(db, "1", "2", "3")
    events(db, capsys, "tail", "--consumer", "ops", "--limit", "2")
    db.clock.advance(timedelta(days=8).total_seconds())

    assert events(db, capsys, "purge", "--older-than", "7d") == ["purged 2 events older than 7d"]
    assert len(events(db, capsys, "tail", "--consumer", "ops")) == 1


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["purge", "--older-than", "7"], id="duration-without-unit"),
        pytest.param(["purge", "--older-than", "1y"], id="unknown-unit"),
        pytest.param(["tail", "--type", "item_updated"], id="updated-is-never-an-event-type"),
        pytest.param(["tail", "--limit", "0"], id="limit-below-one"),
    ],
)
def test_bad_input_is_a_one_line_config_error(db: Db, capsys: Capture, argv: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        events(db, capsys, *argv)

    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("30m", timedelta(minutes=30), id="minutes"),
        pytest.param("12h", timedelta(hours=12), id="hours"),
        pytest.param("7d", timedelta(days=7), id="days"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_format_age_uses_the_largest_whole_unit() -> None:
    assert [format_age(s) for s in (None, 42, 300, 7300, 200000)] == ["-", "42s", "5m", "2h", "2d"]
