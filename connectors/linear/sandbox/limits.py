"""Linear's two rate limits per API key, and the per-query complexity they spend (vendors.md §4.2,
§6.4.3).

Both are leaky buckets refilled at `limit / period` (Linear's rate-limiting page). Complexity is
Linear's published rule: each scalar field 0.1 point, each object 1 point, and a connection
multiplies its nodes' cost by `first` (default 50); the sum is rounded up. A query over
`max_complexity` is refused outright, however full the budget. The numbers (5,000 requests/h,
250,000 points/h, 10,000 points per query) are third-party figures (§4.2), so all are settable.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)

HOUR_S = 3600.0
DEFAULT_PAGE = 50  # "The first 50 results are returned by default" (pagination docs)
CONNECTION_LISTS = ("nodes", "edges")


@dataclass
class Bucket:
    """A leaky bucket: `limit` tokens, refilled continuously over `period_s`."""

    limit: float
    period_s: float = HOUR_S
    tokens: float = -1.0
    updated: float = 0.0

    def refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.updated = self.limit, now
        rate = self.limit / self.period_s
        self.tokens = min(self.limit, self.tokens + max(now - self.updated, 0.0) * rate)
        self.updated = now

    def seconds_until(self, amount: float) -> float:
        """Fake seconds until `amount` tokens are available (0 if they are now)."""
        missing = max(amount - self.tokens, 0.0)
        return missing * self.period_s / self.limit

    def reset_ms(self, now: float, amount: float | None = None) -> int:
        """Epoch ms when `amount` tokens are there (default: when the bucket is full again)."""
        wanted = self.limit if amount is None else amount
        return int((now + self.seconds_until(wanted)) * 1000)


@dataclass
class Verdict:
    """The outcome of spending one request: allowed or not, and the headers to send either way."""

    allowed: bool
    exhausted: str | None  # "requests" or "complexity" when refused
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_s: float = 0.0


class RateLimits:
    """Request and complexity budgets per API key; `spend` charges one query against both."""

    def __init__(
        self,
        requests_per_hour: float = 5_000,
        complexity_per_hour: float = 250_000,
        max_complexity: int = 10_000,
        *,
        enabled: bool = True,
        status: int = 400,
    ) -> None:
        self.requests_per_hour = requests_per_hour
        self.complexity_per_hour = complexity_per_hour
        self.max_complexity = max_complexity
        self.enabled = enabled
        self.status = status  # HTTP status of a RATELIMITED answer: 400 or 429 (unverified, §4.2)
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    def configure(self, **settings: Any) -> None:
        """Change limits at runtime (control plane); the budgets start full again."""
        for name, value in settings.items():
            if name not in (
                "requests_per_hour",
                "complexity_per_hour",
                "max_complexity",
                "enabled",
                "status",
            ):
                raise ValueError(f"unknown limit {name!r}")
            current = getattr(self, name)
            setattr(
                self, name, type(current)(value) if not isinstance(current, bool) else _bool(value)
            )
        with self._lock:
            self._buckets = {}

    def spend(self, key: str, complexity: int, now: float) -> Verdict:
        """Charge 1 request and `complexity` points to `key`, unless either budget is short."""
        with self._lock:
            requests = self._bucket(key, "requests", self.requests_per_hour, now)
            points = self._bucket(key, "complexity", self.complexity_per_hour, now)
            exhausted = None
            if self.enabled and requests.tokens < 1:
                exhausted = "requests"
            elif self.enabled and points.tokens < complexity:
                exhausted = "complexity"
            if exhausted is None:
                requests.tokens -= 1
                points.tokens -= complexity
            return self._verdict(exhausted, requests, points, complexity, now)

    def _verdict(
        self, exhausted: str | None, requests: Bucket, points: Bucket, complexity: int, now: float
    ) -> Verdict:
        waits = {
            "requests": requests.seconds_until(1),
            "complexity": points.seconds_until(complexity),
        }
        headers = {
            "x-ratelimit-requests-limit": str(int(requests.limit)),
            "x-ratelimit-requests-remaining": str(max(int(requests.tokens), 0)),
            "x-ratelimit-requests-reset": str(requests.reset_ms(now, 1 if exhausted else None)),
            "x-complexity": str(complexity),
            "x-ratelimit-complexity-limit": str(int(points.limit)),
            "x-ratelimit-complexity-remaining": str(max(int(points.tokens), 0)),
            "x-ratelimit-complexity-reset": str(
                points.reset_ms(now, complexity if exhausted else None)
            ),
        }
        if exhausted == "complexity":  # the reset a client honours is the one that refused it
            headers["x-ratelimit-requests-reset"] = headers["x-ratelimit-complexity-reset"]
        wait = waits[exhausted] if exhausted else 0.0
        return Verdict(exhausted is None, exhausted, headers, wait)

    def _bucket(self, key: str, kind: str, limit: float, now: float) -> Bucket:
        bucket = self._buckets.setdefault((key, kind), Bucket(limit))
        bucket.refill(now)
        return bucket


def _bool(value: object) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def complexity(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """Linear's complexity score of one operation (module docstring), rounded up."""
    root = schema.query_type
    assert root is not None
    return math.ceil(_cost(schema, root, operation.selection_set, fragments, variables) - 1e-9)


def _cost(
    schema: GraphQLSchema,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> float:
    total = 0.0
    for node in _fields(selection_set, fragments):
        definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename and friends: free
            continue
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType):
            total += 0.1
            continue
        total += 1.0 + _object_cost(schema, named, node, fragments, variables)
    return total


def _object_cost(
    schema: GraphQLSchema,
    named: GraphQLObjectType,
    node: FieldNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> float:
    if not named.name.endswith("Connection"):
        return _cost(schema, named, node.selection_set, fragments, variables)
    args = literal_arguments(node, variables)
    first = int(args.get("first") or args.get("last") or DEFAULT_PAGE)
    total = 0.0
    for child in _fields(node.selection_set, fragments):
        child_def = named.fields.get(child.name.value)
        if child_def is None:
            continue
        child_type = get_named_type(child_def.type)
        if not isinstance(child_type, GraphQLObjectType):
            total += 0.1
            continue
        inner = 1.0 + _cost(schema, child_type, child.selection_set, fragments, variables)
        total += inner * first if child.name.value in CONNECTION_LISTS else inner
    return total


def literal_arguments(node: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    """A field's arguments with variables filled in (uncoerced: enough for `first` / `after`)."""
    return {
        arg.name.value: value_from_ast_untyped(arg.value, variables) for arg in node.arguments or ()
    }


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The field nodes of a selection set, with fragments (spread or inline) flattened."""
    out: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out += _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            out += _fields(fragments[selection.name.value].selection_set, fragments)
    return out
