"""Tenant isolation in the scheduler: a tenant never holds more than its share of the workers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.slack.sandbox import Sandbox
from pipeline.config import PipelineConfig
from pipeline.fair_share import TenantShares
from pipeline.scheduler import TICK_S, Scheduler, job_id
from pipeline.testing import Db

TOKEN_ENV = "FAIR_SHARE_SLACK_TOKEN"


@pytest.mark.parametrize(("workers", "tenants", "share"), [(8, 2, 4), (8, 3, 2), (2, 5, 1), (4, 0, 4)])
def test_share_is_workers_over_tenants_and_at_least_one(workers: int, tenants: int, share: int) -> None:
    assert TenantShares(workers, tenants).share == share


def test_a_tenant_at_its_share_is_refused_while_another_tenant_is_not() -> None:
    shares = TenantShares(workers=4, tenants=2)

    with (shares.slot("a") as first, shares.slot("a") as second, shares.slot("a") as third,
          shares.slot("b") as other):
        held = (first, second, third, other)
    with shares.slot("a") as after:
        pass

    assert held == (True, True, False, True)
    assert after and shares.in_flight("a") == 0 and shares.in_flight("b") == 0


@pytest.fixture
def slack_api() -> Iterator[str]:
    with Sandbox(seed=0, regime="unlimited").serving() as url:
        yield f"{url}/api/"


def two_tenants(api_url: str) -> PipelineConfig:
    return PipelineConfig.model_validate({"workers": 2, "subscriptions": [
        {"stream": "slack-channels", "tenant": tenant, "interval": "1m", "token_env": TOKEN_ENV,
         "api_url": api_url} for tenant in ("storming", "calm")
    ]})


def test_a_tenant_holding_its_share_is_deferred_one_tick_and_the_other_runs_now(
    db: Db, slack_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "xoxb-sandbox-token")
    scheduler = Scheduler(db.engine, two_tenants(slack_api))
    storming, calm = scheduler.config.subscriptions

    with scheduler.shares.slot("storming"):  # its one worker is busy waiting out a Retry-After
        deferred = scheduler.run_once(storming)
        ran = scheduler.run_once(calm)
    retry = scheduler.scheduler.get_job(f"{job_id(storming)}:retry")

    assert deferred is None and ran is not None and ran.status == "success"
    assert retry is not None
    soon = retry.trigger.run_date - datetime.now().astimezone()
    assert timedelta(0) < soon <= timedelta(seconds=TICK_S)
    assert scheduler.shares.in_flight("calm") == 0
