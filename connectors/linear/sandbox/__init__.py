"""A Linear-GraphQL-compatible sandbox: a seeded workspace with archive, trash and purge on a fake
clock, request and complexity budgets, faults and a control plane, served in-process (httpx WSGI
transport) or over real HTTP (vendors.md §4.2, §6.1, §6.4).

    from connectors.linear.sandbox import Sandbox

    sandbox = Sandbox(seed=1)                       # 3 teams, 60 issues, its own FakeClock
    response = sandbox.query("{ issues(first: 10) { nodes { id identifier } } }")
    sandbox.archive("ENG-3"); sandbox.advance(31 * 86400)
"""

from pipeline.testing import SandboxTransport, SimulatedTimeout

from .app import OAUTH_TOKEN, TOKEN, SandboxApp
from .contract import ContractSandbox, contract_sandbox
from .control import snapshot
from .executor import SCHEMA_PATH, Executor
from .faults import Call, Fault, Faults
from .limits import RateLimits
from .seed import bulk_seed, churn, seed_store
from .server import (
    IN_PROCESS_URL,
    Sandbox,
    in_process_settings,
    serve,
    start_in_thread,
)
from .store import DEFAULT_NOW, GRACE_S, SandboxClock, SandboxError, Store
from .webhooks import WebhookSender

DEFAULT_SEED = 1
"""`--sandbox` and `pipeline sandbox linear` serve the same workspace unless told otherwise."""

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_SEED",
    "GRACE_S",
    "IN_PROCESS_URL",
    "OAUTH_TOKEN",
    "SCHEMA_PATH",
    "TOKEN",
    "Call",
    "ContractSandbox",
    "Executor",
    "Fault",
    "Faults",
    "RateLimits",
    "Sandbox",
    "SandboxApp",
    "SandboxClock",
    "SandboxError",
    "SandboxTransport",
    "SimulatedTimeout",
    "Store",
    "WebhookSender",
    "bulk_seed",
    "churn",
    "contract_sandbox",
    "in_process_settings",
    "seed_store",
    "serve",
    "snapshot",
    "start_in_thread",
]
