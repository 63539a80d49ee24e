"""The one HTTP layer for every connector: httpx.Client plus retries, budgets, counters, redaction.

It knows nothing about runs (DESIGN §6): the engine reads `CallStats` and maps `BudgetSpent` to a
`throttled` run; connectors add only a `check(response)` hook and their `Regime`s.
"""

from pipeline.http.auth import ApiKey, BearerToken
from pipeline.http.budget import Regime, RequestBudget
from pipeline.http.client import CallStats, HttpClient
from pipeline.http.clock import Clock, FakeClock, SystemClock
from pipeline.http.retry import RetryPolicy

__all__ = [
    "ApiKey",
    "BearerToken",
    "CallStats",
    "Clock",
    "FakeClock",
    "HttpClient",
    "Regime",
    "RequestBudget",
    "RetryPolicy",
    "SystemClock",
]
