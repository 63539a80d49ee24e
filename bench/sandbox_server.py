"""A Slack sandbox in its own process, in real time: `python -m bench.sandbox_server '<json>'`.

For `--pacing real`: the tool under test and the server do not share a Python process (nor its
GIL), and the server's rate limits refill on the wall clock. Prints `{"url": …}` once it listens.
Spec keys: `seed`, `channels`, `messages_per_channel`, `thread_ratio`, `regime` (`unlimited` or
`tier3`), `burst` (the Tier 3 bucket size; None: a minute's allowance).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from connectors.slack.sandbox import DEFAULT_NOW, Sandbox
from pipeline.testing import make_server


def build(spec: dict[str, Any]) -> Sandbox:
    started = time.time()
    sandbox = Sandbox(
        spec.get("seed", 0),
        regime=spec["regime"],
        clock=lambda: DEFAULT_NOW + time.time() - started,
        channels=spec["channels"],
        messages_per_channel=spec["messages_per_channel"],
        thread_ratio=spec["thread_ratio"],
        users=40,
        now=DEFAULT_NOW,  # the layout depends on `now`: every server process seeds the same one
    )
    sandbox.limiter.burst = spec.get("burst")
    return sandbox


def main() -> None:
    sandbox = build(json.loads(sys.argv[1]))
    server = make_server(sandbox.app, "127.0.0.1", 0)
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
