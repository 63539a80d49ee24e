"""The GitHub connector: base URL, auth, headers, config, and how to read its refusals.

Rate limits (vendors.md §4.1) come as 403 or 429: the primary one with `x-ratelimit-remaining: 0`
(wait until `x-ratelimit-reset`, or end `throttled` past the run's patience), the secondary one
with a "secondary rate limit" message and `retry-after`, or without it: then at least 60 s,
doubling on repeats. Any other 403 is an access problem; a 401 names the token's variable.
"""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from pydantic import Field, field_validator

from pipeline import (
    AuthError,
    BearerToken,
    ConnectorConfig,
    RateLimitedError,
    RetryPolicy,
    connector,
)

REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SECONDARY_FLOOR_S = 60.0


class GitHubConfig(ConnectorConfig):
    """`repos = ["owner/name", …]` (required) plus the keys every connector takes."""

    repos: list[str] = Field(min_length=1, description="the repos to mirror, as owner/name")

    @field_validator("repos")
    @classmethod
    def _owner_name(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            if not REPO.match(repo):
                raise ValueError(f"{repo!r} is not owner/name")
        return repos


def limit_wait_s(response: httpx.Response, now: datetime) -> float | None:
    """Seconds a rate-limited answer asks for; 0.0: a secondary limit without `retry-after`;
    None: not a rate limit (vendors.md §4.1)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(float(reset) - now.timestamp(), 1.0)
    if response.status_code == 429 or "secondary rate limit" in response.text.lower():
        return 0.0
    return None


def rejected(
    response: httpx.Response, now: datetime, token_env: str = "GITHUB_TOKEN"
) -> Exception | None:
    """GitHub's refusals as our errors: rate limits are retried or end `throttled`; 401 is auth."""
    if response.status_code == 401:
        return AuthError(f"GitHub rejected the token in {token_env} (401 Bad credentials)")
    wait_s = limit_wait_s(response, now)
    if wait_s is None:
        return None
    kind = "primary" if response.headers.get("x-ratelimit-remaining") == "0" else "secondary"
    where = f"{kind} rate limit: HTTP {response.status_code} from {response.request.url.path}"
    return RateLimitedError(where, retry_after_s=wait_s or None)


github = connector(
    "github",
    base_url="https://api.github.com/",
    auth=BearerToken(env="GITHUB_TOKEN"),
    api_url_env="GITHUB_API_URL",
    config=GitHubConfig,
    sandbox="connectors.github.sandbox",
    description="GitHub issues, pull requests and issue comments (REST, Link pages, ETags)",
    headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    retry=RetryPolicy(rate_limit_fallback_s=SECONDARY_FLOOR_S, rate_limit_backoff=True),
    rejected=rejected,
)
