"""`pipeline.toml`: a valid file becomes subscriptions; every mistake is one ConfigError line
naming the file and the key (pipeline/config.py, DESIGN §5 Environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.commands import subscription_for
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.subscriptions import Subscription

VALID = """
lease_ttl_s = 30

[[subscriptions]]
stream = "slack-messages"
tenant = "acme"
channels = ["C1", "C2"]
lookback_days = 3
interval = "5m"
token_env = "ACME_SLACK_TOKEN"
api_url = "http://127.0.0.1:9/api/"

[[subscriptions]]
stream = "slack-users"
tenant = "acme"
schedule = "*/15 * * * *"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def sub(*lines: str) -> str:
    return "\n".join(["[[subscriptions]]", 'stream = "slack-users"', *lines, ""])


def test_valid_file_becomes_subscriptions_with_their_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))

    assert config is not None and config.lease_ttl_s == 30
    messages, users = [s.subscription() for s in config.subscriptions]
    assert messages == Subscription(
        "slack",
        "messages",
        "acme",
        "default",
        {
            "channels": ["C1", "C2"],
            "lookback_days": 3,
            "token_env": "ACME_SLACK_TOKEN",
            "api_url": "http://127.0.0.1:9/api/",
        },
    )
    assert (users.stream, users.tenant_id) == ("users", "acme")
    assert config.subscriptions[0].interval_s == 300


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        pytest.param(
            sub('token = "xoxb-123-secret"'),
            "subscriptions[0].token",
            "unknown key",
            id="unknown-key",
        ),
        pytest.param(
            'token = "xoxb-123-secret"\n', "token", "unknown key", id="unknown-top-level-key"
        ),
        pytest.param(
            '[[subscriptions]]\nstream = "slack-nope"\n',
            "subscriptions[0].stream",
            "unknown stream 'slack-nope'; known streams: ",
            id="unknown-stream",
        ),
        pytest.param(
            sub('schedule = "61 * * * *"'), "subscriptions[0].schedule", "61", id="bad-cron"
        ),
        pytest.param(
            sub('schedule = "daily"'),
            "subscriptions[0].schedule",
            "expected 5",
            id="cron-not-5-fields",
        ),
        pytest.param(
            sub('interval = "5 minutes"'),
            "subscriptions[0].interval",
            "not a duration",
            id="bad-interval",
        ),
        pytest.param(
            sub('interval = "5m"', 'schedule = "*/5 * * * *"'),
            "subscriptions[0]",
            "either schedule (cron) or interval, not both",
            id="schedule-and-interval",
        ),
        pytest.param(
            sub('token_env = "xoxb-123-secret"'),
            "subscriptions[0].token_env",
            "must name an environment variable",
            id="token-env-holds-a-token",
        ),
        pytest.param("[[subscriptions]\nstream =\n", "not valid TOML", "line 1", id="not-toml"),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, key: str, says: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: {key}")
    assert says in message
    assert "\n" not in message
    assert "xoxb-123-secret" not in message


def test_missing_pipeline_config_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.toml"
    monkeypatch.setenv("PIPELINE_CONFIG", str(missing))

    with pytest.raises(ConfigError, match="no such file") as raised:
        load_config()

    assert str(raised.value).startswith(f"{missing}: ")


def test_run_picks_the_configured_subscription_for_the_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_CONFIG", str(write(tmp_path, VALID)))

    chosen = subscription_for("slack-messages", "acme")

    assert (chosen.tenant_id, chosen.stream) == ("acme", "messages")
    assert chosen.config["channels"] == ["C1", "C2"]
    assert chosen.config["lookback_days"] == 3
    assert chosen.config["token_env"] == "ACME_SLACK_TOKEN"


def test_run_for_an_unconfigured_tenant_gets_a_default_subscription(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_CONFIG", str(write(tmp_path, VALID)))

    chosen = subscription_for("slack-messages", "other")

    assert chosen == Subscription("slack", "messages", tenant_id="other")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param(
            'workers = "8"\n', "workers: Input should be a valid integer", id="workers-string"
        ),
        pytest.param(
            'lease_ttl_s = "60"\n', "lease_ttl_s: Input should be a valid number", id="ttl-string"
        ),
        pytest.param(
            sub('enabled = "yes"'),
            "subscriptions[0].enabled: Input should be a valid boolean",
            id="enabled-string",
        ),
        pytest.param(
            sub("tenant = 7"),
            "subscriptions[0].tenant: Input should be a valid string",
            id="tenant-number",
        ),
    ],
)
def test_engine_keys_are_strict_a_string_is_never_a_number(
    tmp_path: Path, text: str, says: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value) == f"{path}: {says}"


def test_a_duplicate_subscription_is_named_as_a_duplicate(tmp_path: Path) -> None:
    table = '[[subscriptions]]\nstream = "slack-messages"\ntenant = "acme"\n'
    path = write(tmp_path, table + "\n" + table)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value) == (
        f"{path}: subscriptions[1]: duplicate of subscriptions[0] (slack-messages, tenant acme, "
        "name default): remove it or give it another name"
    )
