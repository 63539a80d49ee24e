"""Tenant isolation in the scheduler: a tenant never holds more than its share of a process's
workers; its other due subscriptions stay due (unclaimed) while other tenants run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.slack.sandbox import Sandbox
from pipeline.config import PipelineConfig
from pipeline.fair_share import TenantShares
from pipeline.scheduler import Scheduler, ScheduleSettings
from pipeline.subscription_store import SubscriptionStore
from pipeline.testing import Db

TOKEN_ENV = "FAIR_SHARE_SLACK_TOKEN"


@pytest.mark.parametrize(
    ("workers", "tenants", "share"), [(8, 2, 4), (8, 3, 2), (2, 5, 1), (4, 0, 4)]
)
def test_share_is_workers_over_tenants_and_at_least_one(
    workers: int, tenants: int, share: int
) -> None:
    assert TenantShares(workers, tenants).share == share


def test_a_tenant_at_its_share_gets_no_more_slots_until_one_is_released() -> None:
    shares = TenantShares(workers=4, tenants=2)

    granted = [shares.acquire("a") for _ in range(3)] + [shares.acquire("b")]

    assert granted == [True, True, False, True]
    assert (shares.room("a"), shares.room("b"), shares.full()) == (0, 1, {"a"})
    shares.release("a")
    assert (shares.room("a"), shares.full()) == (1, set())


@pytest.fixture
def slack_api() -> Iterator[str]:
    with Sandbox(seed=0, regime="unlimited").serving() as url:
        yield f"{url}/api/"


def two_tenants(api_url: str) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "workers": 2,
            "subscriptions": [
                {
                    "stream": stream,
                    "tenant": tenant,
                    "interval": "1m",
                    "token_env": TOKEN_ENV,
                    "api_url": api_url,
                }
                for tenant in ("storming", "calm")
                for stream in ("slack-channels", "slack-users")
            ],
        }
    )


def test_a_tenant_holding_its_share_leaves_its_work_due_and_the_other_tenant_runs_now(
    db: Db, slack_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "xoxb-sandbox-token")
    config = two_tenants(slack_api)
    SubscriptionStore(db.engine).import_config(config, db.clock.now())
    scheduler = Scheduler(db.engine, ScheduleSettings.from_config(config), db.clock)
    assert scheduler.shares.acquire("storming")  # its run is waiting out a Retry-After

    while_storming = scheduler.run_due()
    scheduler.shares.release("storming")  # that run ends
    after = scheduler.run_due()

    assert [(r.tenant_id, r.status) for r in while_storming if r] == [("calm", "success")]
    assert sorted((r.tenant_id, r.status) for r in after if r) == [
        ("calm", "success"),
        ("storming", "success"),
    ]
    assert scheduler.shares.in_flight("storming") == 0 and scheduler.shares.in_flight("calm") == 0
