"""Peer for `--pacing real`: dlt's REST client reads the Slack sandbox over HTTP, merges the messages.

What a dlt user would write for this job (dlt 1.31): `RESTClient` with a Bearer token and a JSON
cursor paginator (`response_metadata.next_cursor` → `cursor`), `conversations.list` for the member
channels, `conversations.history` (limit 200) per channel, then `conversations.replies` for every
thread parent, one row per message keyed `<channel>:<ts>` merged into SQLite (`delete-insert`, the
sqlalchemy destination's merge). Rate limits are dlt's own: its requests client retries a 429 after
the `Retry-After` it names (tenacity, up to 5 attempts). The time it sleeps there is counted by
wrapping tenacity's sleep, the only waiting dlt does while it extracts.
"""

from __future__ import annotations

import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.peer_dlt import _environment, timed_run

DATASET = "bench_dlt_http"
PIPELINE = "bench_dlt_http"
waited = {"seconds": 0.0, "sleeps": 0}
_seen: set[str] = set()


def _count_sleeps() -> None:
    """Count tenacity's sleeps (dlt's retry waits) without changing them."""
    import tenacity.nap

    def sleep(seconds: float) -> None:
        waited["seconds"] += seconds
        waited["sleeps"] += 1
        time.sleep(seconds)

    tenacity.nap.time = types.SimpleNamespace(sleep=sleep)  # type: ignore[attr-defined]


def _client(api_url: str, token: str) -> Any:
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    paginator = JSONResponseCursorPaginator(
        cursor_path="response_metadata.next_cursor", cursor_param="cursor"
    )
    return RESTClient(base_url=api_url, auth=BearerTokenAuth(token), paginator=paginator)


def _messages(client: Any, counts: dict[str, int]) -> Iterator[list[dict[str, Any]]]:
    params = {"types": "public_channel,private_channel", "exclude_archived": "true", "limit": 200}
    channels = [
        c["id"]
        for page in client.paginate("conversations.list", params=params, data_selector="channels")
        for c in page
        if c.get("is_member")
    ]
    for channel in channels:
        threads: list[str] = []
        history = {"channel": channel, "limit": 200}
        for page in client.paginate(
            "conversations.history", params=history, data_selector="messages"
        ):
            threads += [
                m["ts"] for m in page if m.get("reply_count") and m.get("thread_ts") == m["ts"]
            ]
            yield _rows(channel, page, counts)
        for ts in threads:
            replies = {"channel": channel, "ts": ts, "limit": 200}
            for page in client.paginate(
                "conversations.replies", params=replies, data_selector="messages"
            ):
                yield _rows(channel, page, counts)


def _rows(channel: str, page: list[dict[str, Any]], counts: dict[str, int]) -> list[dict[str, Any]]:
    """Rows keyed `<channel>:<ts>`; a message already yielded (a thread's parent, a broadcast
    reply) is left out: dlt's staging table refuses a key twice in one load."""
    counts["records"] += len(page)
    rows = [{"id": f"{channel}:{m['ts']}", "channel": channel, **m} for m in page]
    fresh = [r for r in rows if r["id"] not in _seen]
    _seen.update(r["id"] for r in fresh)
    return fresh


def run(url: str, api_url: str, token: str, workdir: Path) -> dict[str, Any]:
    """One sync (first or re-sync: dlt re-reads everything and merges) into `url`."""
    _environment(workdir)
    _count_sleeps()
    import dlt

    counts = {"records": 0}
    resource = dlt.resource(
        _messages(_client(api_url, token), counts),
        name="slack_messages",
        primary_key="id",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        max_table_nesting=0,
    )
    watch = timed_run(resource, url, workdir, PIPELINE, DATASET)
    return {
        "seconds": watch.wall,
        "cpu_seconds": watch.cpu,
        "messages": counts["records"],
        "waited_s": round(waited["seconds"], 2),
        "client_retries": waited["sleeps"],
        "dlt_version": dlt.__version__,
    }
