"""A GitHub-REST-compatible sandbox: seeded repos with issues, pull requests and comments; Link
pages over live data; ETags and 304; 410/301; primary and secondary limits; faults; a control
plane; a fake clock shared with the client (vendors.md §4.1, §6.1, §6.3).

    from connectors.github.sandbox import Sandbox

    sandbox = Sandbox(seed=1)                        # octo-org/widgets and octo-org/gadgets
    with sandbox.client() as http:                   # in-process, Bearer ghp_sandbox_token
        http.get("/repos/octo-org/widgets/issues", params={"state": "all", "per_page": 10})
"""

from pipeline.testing import SandboxTransport, SimulatedTimeout

from .app import TOKEN, SandboxApp
from .clock import DEFAULT_NOW, SandboxClock, iso, parse_iso
from .faults import Call, Fault, Faults
from .limits import Limits, LimitSettings
from .seed import DEFAULT_REPOS, bulk_seed, seed_world
from .server import (
    DEFAULT_SEED,
    IN_PROCESS_URL,
    Sandbox,
    in_process_settings,
    serve,
    start_in_thread,
)
from .snapshot import snapshot
from .world import Comment, Issue, NotFound, World

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_REPOS",
    "DEFAULT_SEED",
    "IN_PROCESS_URL",
    "TOKEN",
    "Call",
    "Comment",
    "Fault",
    "Faults",
    "Issue",
    "LimitSettings",
    "Limits",
    "NotFound",
    "Sandbox",
    "SandboxApp",
    "SandboxClock",
    "SandboxTransport",
    "SimulatedTimeout",
    "World",
    "bulk_seed",
    "in_process_settings",
    "iso",
    "parse_iso",
    "seed_world",
    "serve",
    "snapshot",
    "start_in_thread",
]
