"""Tenant isolation in the scheduler: a tenant never holds more than its share of the workers, and
a run over the share waits for the tenant's next free slot without taking a worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.slack.sandbox import Sandbox
from pipeline.config import PipelineConfig
from pipeline.fair_share import TenantShares
from pipeline.scheduler import Scheduler, job_id
from pipeline.testing import Db

TOKEN_ENV = "FAIR_SHARE_SLACK_TOKEN"


@pytest.mark.parametrize(
    ("workers", "tenants", "share"), [(8, 2, 4), (8, 3, 2), (2, 5, 1), (4, 0, 4)]
)
def test_share_is_workers_over_tenants_and_at_least_one(
    workers: int, tenants: int, share: int
) -> None:
    assert TenantShares(workers, tenants).share == share


def test_a_tenant_at_its_share_queues_while_another_tenant_runs() -> None:
    shares = TenantShares(workers=4, tenants=2)

    granted = [shares.acquire("a", key) for key in ("a1", "a2", "a3", "a3")] + [
        shares.acquire("b", "b1")
    ]

    assert granted == [True, True, False, False, True]
    assert shares.waiting("a") == ["a3"] and shares.in_flight("a") == 2


def test_a_freed_slot_goes_to_the_oldest_queued_run_before_any_newcomer() -> None:
    shares = TenantShares(workers=1, tenants=1)
    shares.acquire("a", "first")
    shares.acquire("a", "second")
    shares.acquire("a", "third")

    handed = shares.release("a")
    newcomer = shares.acquire("a", "first")  # its trigger fires again while "second" waits to start
    again = shares.acquire("a", "second")  # a slot is already on its way to it: not queued twice
    shares.take_handed("second")

    assert (handed, newcomer, again) == ("second", False, False)
    assert shares.waiting("a") == ["third", "first"] and shares.in_flight("a") == 1
    assert [shares.release("a"), shares.release("a"), shares.release("a")] == [
        "third",
        "first",
        None,
    ]
    assert shares.in_flight("a") == 0


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


def test_a_tenant_holding_its_share_waits_for_its_own_slot_and_the_other_tenant_runs_now(
    db: Db, slack_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "xoxb-sandbox-token")
    scheduler = Scheduler(db.engine, two_tenants(slack_api))
    storming_channels, storming_users, calm_channels, _ = scheduler.config.subscriptions
    assert scheduler.shares.acquire(
        "storming", job_id(storming_channels)
    )  # waiting out a Retry-After

    queued = scheduler.run_once(storming_users)
    calm = scheduler.run_once(calm_channels)
    scheduler._hand_over("storming")  # the storming run ends: its slot goes to the queued run
    handed = scheduler.scheduler.get_job(f"{job_id(storming_users)}:handed")
    resumed = scheduler.run_once(storming_users, handed=True)

    assert queued is None and calm is not None and calm.status == "success"
    assert handed is not None and handed.kwargs == {"handed": True}
    assert resumed is not None and resumed.status == "success"
    assert scheduler.shares.in_flight("storming") == 0 and scheduler.shares.in_flight("calm") == 0
