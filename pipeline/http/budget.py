"""Rate budgets: a request cap per run, and named regimes (where adaptive pacing starts).

Vendors limit calls per method (tiers, vendors.md §1.6), and a slow regime (one request per
minute) makes a backfill take days, so a run must be able to stop,
checkpoint and end `throttled` instead of sleeping. Both limits raise `BudgetSpent` before a request
is sent; the client does the sleeping through the injected `Clock` (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.errors import BudgetSpent
from pipeline.http.pacing import PaceSpec


class RequestBudget:
    """A cap on the requests one run may send (`None`: no cap).

    The client asks before every attempt, retries included, so a run never sends more than
    `max_requests`; when the cap is spent it raises `BudgetSpent` and the next run continues.
    """

    def __init__(self, max_requests: int | None = None) -> None:
        if max_requests is not None and max_requests < 0:
            raise ValueError("max_requests cannot be negative")
        self.max_requests = max_requests
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.max_requests is None else self.max_requests - self.used

    @property
    def is_spent(self) -> bool:
        return self.max_requests is not None and self.used >= self.max_requests

    def spend(self) -> None:
        """Count one request about to be sent; raise `BudgetSpent` instead if the cap is reached."""
        if self.is_spent:
            raise BudgetSpent()
        self.used += 1

    def __repr__(self) -> str:
        return f"RequestBudget(max_requests={self.max_requests}, used={self.used})"


@dataclass(frozen=True)
class Regime:
    """A vendor's rate regime: per-method limits (requests/minute) and the page `limit` to send.

    A connector declares its regimes and the configuration picks one (vendors.md §1.6 says to treat
    a vendor's regime as configuration), e.g.::

        Regime("non_marketplace", {"conversations.history": 1, "conversations.replies": 1},
               limit=15)

    Methods not listed have no rate budget. The rates are where adaptive pacing starts
    (`pipeline.http.pacing`): it probes up to `max_factor` × the documented rate while the vendor
    accepts, and cuts on a 429. A `fixed` regime is paced at its documented rate and never probes
    (a 1-request-per-minute regime: a wrong guess costs a minute). `window_s` is the vendor's
    accounting window, over which a 429 measures what it accepted.
    """

    name: str
    rates_per_minute: Mapping[str, float] = field(default_factory=dict, hash=False)
    limit: int | None = None
    burst: float = 1.0
    fixed: bool = False
    max_factor: float = 100.0
    window_s: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates_per_minute", MappingProxyType(dict(self.rates_per_minute)))

    def pace_spec(self, method: str) -> PaceSpec:
        """What adaptive pacing starts from for `method` (an unrated method is not paced)."""
        rate = self.rates_per_minute.get(method)
        per_s = None if rate is None else rate / 60.0
        return PaceSpec(self.name, per_s, self.burst, self.fixed, self.max_factor, self.window_s)
