"""`RestStream`: a vendor listing declared as class attributes plus a few hooks (STYLE, DESIGN §7).

The framework walks it: per scope (one repo, one team; or the whole account), an incremental walk
from `high_water − lookback` checkpointed after every committed page, or a full, unfiltered walk
(the first sync, `--full-refresh`, and every `full_walk_every`) whose rows are marked with the
walk's generation so that, when it ends on the vendor's explicit end signal, the rows of the scope
it did not see are tombstoned (behind the max-fraction guard), however many runs the walk took.

A page that breaks the vendor's contract (a missing records list, "more" without a cursor, an
empty page that is not the last, a cursor that repeats) fails that scope's walk: nothing of it is
swept, the other scopes still sync, and the run ends `partial` naming it. A record that cannot be
keyed is a failed run item, and its scope's walk sweeps nothing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from types import NoneType, UnionType
from typing import Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin

import httpx
import sqlalchemy as sa
from pydantic import BaseModel

from pipeline.changes import Change, Checkpoint, Page, Sweep
from pipeline.connector import Connector, ConnectorConfig
from pipeline.db import JSONType, Timestamp
from pipeline.durations import parse_duration
from pipeline.errors import (
    AuthError,
    IncompleteError,
    LeaseLostError,
    MalformedPageError,
    PageTooLargeError,
    SourceError,
)
from pipeline.http import HttpClient
from pipeline.http.paginators import PageRequest, Paginator, SinglePage, dig
from pipeline.registry import SourceContext, Stream
from pipeline.schema import entity_table

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Column:
    """A typed entity column: `name`, read from the record at `at` (dotted; default `name`).

    Its SQL type comes from the model field of that name unless `type` is given.
    """

    name: str
    at: str | None = None
    type: Any = None
    index: bool = False


@dataclass(frozen=True)
class ScopeCheckpoint:
    """What `params()` sees of the stored checkpoint for one scope of one walk.

    `high_water` is already moved back by the stream's lookback; it is None on a full walk, which
    must not filter (so that absence proves deletion).
    """

    scope: str
    high_water: str | None
    is_full: bool
    stored: Mapping[str, Any] = field(default_factory=dict)


class RestStream(Generic[M]):
    """Subclass, set the class attributes, override `params` (and rarely another hook)."""

    name: ClassVar[str]
    entity: ClassVar[str]
    model: ClassVar[type[BaseModel]]
    path: ClassVar[str] = ""
    """Relative to the connector's base URL; `{scope}` is replaced by the scope (e.g. a repo)."""
    method: ClassVar[str] = "GET"
    records_at: ClassVar[str] = ""
    """Dotted path to the records list in the body ("" when the body is the list)."""
    paginator: ClassVar[Paginator] = SinglePage()
    key: ClassVar[str] = "id"
    high_water: ClassVar[str | None] = None
    """Record field checkpointed after every committed page (the walk is sorted by it, ascending)."""
    lookback_s: ClassVar[float] = 0.0
    """How far before the high water an incremental walk restarts (clock skew, inclusive bounds)."""
    volatile: ClassVar[Collection[str]] = ()
    unordered: ClassVar[Collection[str]] = ()
    columns: ClassVar[Sequence[str | Column]] = ()
    scope_column: ClassVar[str | None] = None
    """The typed column holding the scope, so a sweep stays inside its scope (the unnamed scope
    "" is the whole account)."""
    page_size_at: ClassVar[str | None] = None
    """Dotted path of the page size in the JSON body (`variables.first`): on `PageTooLargeError`
    the same page is asked again with half of it."""
    full_walk_every: ClassVar[str | int | None] = "24h"
    """A full listing (deletion by absence) every N runs (int) or a duration; None: only on demand."""
    delete_reason: ClassVar[str] = "absent"
    budget_key: ClassVar[str | None] = None
    conditional: ClassVar[bool] = False
    """Send `If-None-Match` with the ETag of the last incremental walk that was one page (same
    request): a 304 ends the walk with nothing to do (an idle poll costs one cheap call)."""
    table: ClassVar[sa.Table]

    def __init__(self, client: HttpClient, config: ConnectorConfig, context: SourceContext) -> None:
        self.client = client
        self.config = config
        self.context = context
        self.failed_scopes: dict[str, str] = {}

    # -- hooks ---------------------------------------------------------------------------------

    def scopes(self) -> Sequence[str]:
        """The scopes of this subscription (repos, teams); one unnamed scope by default."""
        return [""]

    def params(self, checkpoint: ScopeCheckpoint) -> Mapping[str, Any]:
        """Query parameters of a walk's first request (None values are left out)."""
        return {}

    def body(self, checkpoint: ScopeCheckpoint) -> Any:
        """JSON body of a walk's first request (a GraphQL query and its variables), or None."""
        return None

    def external_id(self, record: Mapping[str, Any]) -> str:
        """The vendor's id of a raw record; raising KeyError/TypeError/ValueError: unkeyable."""
        value = record[self.key]
        if value is None or isinstance(value, list | dict):
            raise ValueError(f"{self.key} is {value!r}")
        return str(value)

    def deleted_when(self, record: Mapping[str, Any]) -> str | None:
        """A deletion signal inside the record (e.g. `archivedAt` set): its `delete_reason`."""
        return None

    def prepare(self, record: Mapping[str, Any], scope: str) -> Mapping[str, Any]:
        """The record as stored: add its scope or flatten it here (default: unchanged)."""
        return record

    def confirm_absent(self, scope: str, external_ids: Sequence[str]) -> Mapping[str, str | None]:
        """Records a complete walk did not see, past the guard: the `delete_reason` of each, or
        None to keep it (ask the vendor here, e.g. a direct GET answering 410). Default: all go."""
        return dict.fromkeys(external_ids, self.delete_reason)

    # -- the walk (framework) --------------------------------------------------------------------

    def api_calls(self) -> Mapping[str, int]:
        s = self.client.stats
        return {"api_calls": s.api_calls, "rate_limited": s.rate_limited, "retries": s.retries}

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        state = copy.deepcopy(dict(checkpoint or {}))
        scopes: dict[str, Any] = state.setdefault("scopes", {})
        for scope in in_turn(self.scopes(), scopes):
            walk = ScopeWalk(self, scope, scopes.setdefault(scope, {}), state)
            try:
                yield from walk.pages()
            except (AuthError, LeaseLostError):
                raise
            except SourceError as exc:  # one scope failing never starves the others
                self.failed_scopes[scope or self.name] = str(exc)
        if self.failed_scopes:
            named = "; ".join(f"{scope}: {error}" for scope, error in self.failed_scopes.items())
            raise IncompleteError(f"{len(self.failed_scopes)} scope(s) not fully read: {named}")

    def now(self) -> datetime:
        return self.context.clock.now()


class ScopeWalk:
    """One scope's walk in one run: requests, pages, high water, generation, sweep."""

    def __init__(
        self, stream: RestStream[Any], scope: str, stored: dict[str, Any], state: dict[str, Any]
    ) -> None:
        self.s, self.scope, self.stored, self.state = stream, scope, stored, state
        self.keys_ok = True

    def pages(self) -> Iterator[Page]:
        request, walk = self.start()
        first = "request" not in walk
        while True:
            validator = self.validator(request, walk) if first else None
            request, response = self.fetch(request, validator)
            if response.status_code == 304:  # unchanged since the remembered one-page walk
                yield self.page([], walk, None)
                return
            body = _json(response)
            records = self.records(body)
            following = self.s.paginator.next(request, response, body)
            if first:
                self.remember(request, response, walk, following)
                first = False
            if following is not None and not records:
                raise MalformedPageError("an empty page that says more pages follow")
            changes = self.changes(records)
            yield self.page(changes, walk, following)
            if following is None:
                return
            request = following

    def validator(self, request: PageRequest, walk: Mapping[str, Any]) -> dict[str, str] | None:
        """`If-None-Match` for an incremental walk's first request, when its ETag is known."""
        known = self.stored.get("etag")
        if not self.s.conditional or walk["full"] or not known:
            return None
        return {"If-None-Match": known["etag"]} if known["request"] == request.state() else None

    def remember(
        self,
        request: PageRequest,
        response: httpx.Response,
        walk: Mapping[str, Any],
        following: PageRequest | None,
    ) -> None:
        """Keep the ETag of a one-page incremental walk (a longer walk's first page can stay the
        same while a later page changes, so its ETag proves nothing)."""
        etag = response.headers.get("etag")
        if self.s.conditional and etag and not walk["full"] and following is None:
            self.stored["etag"] = {"request": request.state(), "etag": etag}
        else:
            self.stored.pop("etag", None)

    def fetch(
        self, request: PageRequest, validator: dict[str, str] | None = None
    ) -> tuple[PageRequest, httpx.Response]:
        """Send one page request; halve the page size while the vendor says it is too large."""
        while True:
            try:
                return request, self.s.client.request(
                    self.s.method,
                    request.path,
                    params={k: v for k, v in request.params.items() if v is not None} or None,
                    json=request.json,
                    budget_key=self.s.budget_key or self.s.path,
                    headers=validator,
                    expect=(304,) if validator else (),
                )
            except PageTooLargeError:
                smaller = _halved(request, self.s.page_size_at)
                if smaller is None:
                    raise
                request = smaller

    def start(self) -> tuple[PageRequest, dict[str, Any]]:
        walk = self.stored.get("walk")
        if walk:
            return PageRequest.from_state(walk["request"]), walk
        full = self.full_walk_due()
        since = None if full else _since(self.stored.get("high_water"), self.s.lookback_s)
        checkpoint = ScopeCheckpoint(self.scope, since, full, dict(self.stored))
        path = self.s.path.format(scope=self.scope)
        request = PageRequest(path, dict(self.s.params(checkpoint)), self.s.body(checkpoint))
        walk = {"full": full, "generation": uuid.uuid4().hex if full else None}
        walk["started"] = self.s.now().isoformat()
        return request, walk

    def full_walk_due(self) -> bool:
        every = self.s.config.full_walk_every or self.s.full_walk_every
        last = self.stored.get("full_walk_at")
        if self.s.context.full_refresh or self.stored.get("high_water") is None or last is None:
            return True
        if every is None:
            return False
        if isinstance(every, int):
            return int(self.stored.get("runs_since_full", 0)) + 1 >= every
        due = datetime.fromisoformat(last) + timedelta(seconds=parse_duration(every))
        return self.s.now() >= due

    def records(self, body: Any) -> list[Any]:
        records = dig(body, self.s.records_at)
        if not isinstance(records, list):
            where = self.s.records_at or "the body"
            raise MalformedPageError(f"{where} is not a list of records")
        return records

    def changes(self, records: list[Any]) -> list[Change]:
        changes = []
        for index, record in enumerate(records):
            try:
                key = self.s.external_id(record)
            except (KeyError, TypeError, ValueError) as exc:
                self.keys_ok = False
                label = f"{self.scope or self.s.name}#unkeyed-{index}"
                changes.append(Change.invalid(label, f"record without a usable id: {exc!r}"))
                continue
            reason = self.s.deleted_when(record)
            if reason is not None:
                changes.append(Change.delete(key, reason))
            else:
                changes.append(Change.upsert(key, self.s.prepare(record, self.scope)))
            self.raise_high_water(record)
        return changes

    def raise_high_water(self, record: Mapping[str, Any]) -> None:
        if self.s.high_water is None:
            return
        value = record.get(self.s.high_water)
        stored = self.stored.get("high_water")
        if value is not None and (stored is None or _order(value) > _order(stored)):
            self.stored["high_water"] = value

    def page(
        self, changes: list[Change], walk: dict[str, Any], following: PageRequest | None
    ) -> Page:
        generation = walk.get("generation")
        if not self.keys_ok:
            walk["incomplete"] = True
        if following is not None:
            self.stored["walk"] = {**walk, "request": following.state()}
            return Page(changes, copy.deepcopy(self.state), (), generation)
        self.stored.pop("walk", None)
        sweeps = self.finish(walk)
        return Page(changes, copy.deepcopy(self.state), sweeps, generation)

    def finish(self, walk: dict[str, Any]) -> list[Sweep]:
        if self.s.high_water is None:
            self.stored["high_water"] = None
        self.stored["synced_at"] = self.s.now().isoformat()
        if not walk["full"]:
            self.stored["runs_since_full"] = int(self.stored.get("runs_since_full", 0)) + 1
            return []
        self.stored["full_walk_at"] = self.s.now().isoformat()
        self.stored["runs_since_full"] = 0
        if walk.get("incomplete"):
            return []
        where = {self.s.scope_column: self.scope} if self.s.scope_column and self.scope else {}
        return [
            Sweep(
                f"{self.s.name} {self.scope}".strip(),
                where=where,
                max_fraction=self.s.config.max_delete_fraction,
                reason=self.s.delete_reason,
                generation=walk["generation"],
                written_before=datetime.fromisoformat(walk["started"]),
                confirm=partial(self.s.confirm_absent, self.scope),
            )
        ]


def _halved(request: PageRequest, size_at: str | None) -> PageRequest | None:
    """The same request with half the page size at `size_at` in its JSON body; None at size 1."""
    if size_at is None or not isinstance(request.json, Mapping):
        return None
    *parents, leaf = size_at.split(".")
    body = copy.deepcopy(dict(request.json))
    holder: Any = body
    for part in parents:
        holder = holder.get(part) if isinstance(holder, dict) else None
    size = holder.get(leaf) if isinstance(holder, dict) else None
    if not isinstance(size, int) or size <= 1:
        return None
    holder[leaf] = size // 2
    return replace(request, json=body)


def in_turn(scopes: Sequence[str], stored: Mapping[str, Any]) -> list[str]:
    """Unfinished walks first, then never-synced scopes, then the least recently synced."""

    def turn(scope: str) -> tuple[int, str, str]:
        s = stored.get(scope) or {}
        if s.get("walk"):
            return 0, "", scope
        return (1, "", scope) if not s.get("synced_at") else (2, s["synced_at"], scope)

    return sorted(scopes, key=turn)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise MalformedPageError(
            f"the answer to {response.request.url.path} is not JSON (HTTP {response.status_code})"
        ) from None


def _order(value: Any) -> Any:
    """A high-water value's sort key: timestamps as instants, numbers as numbers."""
    if isinstance(value, int | float):
        return (0, float(value), "")
    text = str(value)
    try:
        return (0, datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp(), "")
    except ValueError:
        return (1, 0.0, text)


def _since(high_water: Any, lookback_s: float) -> str | None:
    """The high water moved back by the lookback, in the vendor's own format."""
    if high_water is None:
        return None
    text = str(high_water)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text if not lookback_s else str(float(text) - lookback_s)
    moved = (instant - timedelta(seconds=lookback_s)).astimezone(UTC)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ") if text.endswith("Z") else moved.isoformat()


# -- declaration: a RestStream class → a registered Stream with a derived table ------------------


def declare(owner: Connector, cls: type[RestStream[Any]]) -> Stream:
    """Build the registered `Stream` of a `RestStream` subclass, deriving its entity table."""
    table = getattr(cls, "table", None)
    if table is None:
        table = derive_table(f"{owner.name}_{cls.name}".replace("-", "_"), cls)
        cls.table = table

    def open_source(ctx: SourceContext) -> RestStream[Any]:
        config = owner.validate(ctx.subscription.config, f"{owner.name}-{cls.name} config")
        return cls(owner.client(ctx, config), config, ctx)

    return Stream(
        connector=owner.name,
        name=cls.name,
        entity=cls.entity,
        table=table,
        model=cls.model,
        open_source=open_source,
        volatile=frozenset(cls.volatile),
        unordered=frozenset(cls.unordered),
        description=(cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
    )


def derive_table(name: str, cls: type[RestStream[Any]]) -> sa.Table:
    """The entity table: fixed DESIGN §5 columns plus one typed column per `columns` entry."""
    specs = [c if isinstance(c, Column) else Column(c) for c in cls.columns]
    columns = [_sql_column(spec, cls.model) for spec in specs]
    indexes = [("tenant_id", spec.name) for spec in specs if spec.index]
    if cls.scope_column and ("tenant_id", cls.scope_column) not in indexes:
        indexes.append(("tenant_id", cls.scope_column))
    return entity_table(name, *columns, indexes=tuple(indexes))


def _sql_column(spec: Column, model: type[BaseModel]) -> sa.Column[Any]:
    field_info = model.model_fields.get(spec.name)
    kind = spec.type or (_sql_type(field_info.annotation) if field_info else sa.String())
    info = {"path": spec.at} if spec.at else {}
    return sa.Column(spec.name, kind, nullable=True, info=info)


def _sql_type(annotation: Any) -> Any:
    """A SQL type for a model field's annotation (Optional unwrapped)."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        return _sql_type(args[0]) if len(args) == 1 else JSONType
    if origin in (list, dict, set, tuple) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    ):
        return JSONType
    simple = {bool: sa.Boolean(), int: sa.BigInteger(), float: sa.Float(), datetime: Timestamp}
    return simple.get(annotation, sa.String())
