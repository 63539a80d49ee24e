"""GitHub fixtures: a seeded sandbox on the test's FakeClock, and `sync` (in-process transport).

The sandbox shares the engine's `FakeClock`, so a client that "waits" on a rate limit advances
the sandbox's rate windows too. Advance the clock after a mutation so `updated_at` moves.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectors.github.sandbox import Sandbox
from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.testing import Db, FakeClock
from tests.webhooks.conftest import served  # noqa: F401  (fixture: `pipeline serve` on a free port)

REPO = "octo-org/widgets"
REPOS = ["octo-org/widgets", "octo-org/gadgets"]


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    """octo-org/widgets (40 issues and PRs) and octo-org/gadgets (40), with comments."""
    return Sandbox(1, clock)


def sync(
    db: Db,
    sandbox: Sandbox,
    stream: str = "github-issues",
    *,
    full_refresh: bool = False,
    token: str | None = None,
    **config: Any,
) -> Any:
    """One run of a GitHub stream against the in-process sandbox; `config` is the subscription's."""
    connector, name = stream.split("-", 1)
    settings = {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": token or sandbox.token,
        "http_clock": db.clock,
    }
    config.setdefault("repos", REPOS)
    return db.orchestrator.run(
        get_stream(stream),
        Subscription(connector, name, config=config),
        options=RunOptions(settings=settings, full_refresh=full_refresh),
    )
