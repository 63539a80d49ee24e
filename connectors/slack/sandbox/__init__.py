"""A Slack-Web-API-compatible sandbox: a seeded, stateful workspace with a fake clock, faults and
rate-limit regimes, served in-process (httpx WSGI transport) or over real HTTP (vendors.md §6).

    from connectors.slack.sandbox import Sandbox

    sandbox = Sandbox(seed=0)                      # 5 channels × 60 messages, 10 users
    with sandbox.client() as http:                 # in-process, Bearer xoxb-sandbox-token
        http.post("conversations.history", data={"channel": sandbox.channel("general")})
"""

from datetime import UTC, datetime
from typing import Any

from pipeline.testing import FakeClock, SandboxTransport, SimulatedTimeout

from .app import TOKEN, SandboxApp
from .control import snapshot
from .faults import Call, Fault, Faults
from .limits import REGIMES, RateLimiter
from .seed import churn, seed_workspace
from .server import IN_PROCESS_URL, Sandbox, serve, start_in_thread
from .workspace import (
    DEFAULT_NOW,
    Channel,
    SandboxClock,
    SlackError,
    Workspace,
    format_ts,
    parse_ts,
)

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "IN_PROCESS_URL",
    "REGIMES",
    "TOKEN",
    "Call",
    "Channel",
    "Fault",
    "Faults",
    "RateLimiter",
    "Sandbox",
    "SandboxApp",
    "SandboxClock",
    "SandboxTransport",
    "SimulatedTimeout",
    "SlackError",
    "Workspace",
    "churn",
    "format_ts",
    "in_process_settings",
    "parse_ts",
    "seed_workspace",
    "serve",
    "snapshot",
    "start_in_thread",
]


DEFAULT_SEED = 0
"""`--sandbox` and `pipeline sandbox slack` serve the same workspace unless told otherwise."""


def in_process_settings(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Run settings pointing the Slack connector at a seeded in-process sandbox (zero setup).

    The sandbox simulates time: its rate budget and the client's waits run on one fake clock, so
    a sandbox run never sleeps for real while the ledger keeps wall-clock times.
    """
    simulated = FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
    sandbox = Sandbox(seed, clock=simulated.now)
    return {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": sandbox.token,
        "http_clock": simulated,
        "sandbox": sandbox,
    }
