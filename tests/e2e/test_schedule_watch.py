"""`pipeline schedule` you can watch: it checks every subscription at start (exit 2, one line naming
the file and the subscription) and logs one INFO line per finished run, with no HTTP noise."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.e2e.test_schedule import TOKEN_ENV, kill_all, pipeline, schedule_config
from tests.e2e.test_schedule import slack_api as slack_api  # the served sandbox fixture

RUN_LINE = re.compile(
    r" INFO pipeline\.schedule: slack-users/acme success \+\d+ ~0 -0 in \d+\.\ds$"
)


def subscription(api_url: str, **keys: str) -> str:
    extra = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    return (
        f'[[subscriptions]]\nstream = "slack-users"\ntenant = "acme"\ninterval = "1s"\n'
        f'api_url = "{api_url}"\n{extra}'
    )


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        pytest.param(
            {"regime": "tier9", "token_env": TOKEN_ENV},
            "regime: unknown slack regime 'tier9'; use one of tier3, non_marketplace",
            id="bad-regime",
        ),
        pytest.param(
            {"token_env": "ACME_SLACK_TOKEN"},
            "ACME_SLACK_TOKEN is not set: export it, or run with --sandbox",
            id="unset-token-variable",
        ),
    ],
)
def test_a_subscription_that_cannot_run_stops_the_scheduler_at_start(
    tmp_path: Path, slack_api: str, keys: dict[str, str], problem: str
) -> None:
    config = schedule_config(tmp_path, slack_api, subscription(slack_api, **keys))
    db_path = tmp_path / "untouched.db"

    proc = pipeline(f"sqlite:///{db_path}", config, "schedule")
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        kill_all(proc)

    assert (proc.returncode, out) == (2, "")
    assert err.splitlines() == [f"error: {config}: subscriptions[0] (slack-users/acme): {problem}"]
    assert not db_path.exists()


def test_each_finished_run_is_one_info_line_and_http_stays_quiet(
    tmp_path: Path, slack_api: str
) -> None:
    config = schedule_config(tmp_path, slack_api, subscription(slack_api, token_env=TOKEN_ENV))
    proc = pipeline(f"sqlite:///{tmp_path / 'pipeline.db'}", config, "schedule")
    assert proc.stderr is not None
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line.rstrip("\n"))
            if RUN_LINE.search(seen[-1]):
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        kill_all(proc)

    assert RUN_LINE.search(seen[-1]), seen
    assert proc.returncode == 0
    assert not [
        line for line in [*seen, *rest.splitlines()] if "HTTP" in line or "apscheduler" in line
    ]
