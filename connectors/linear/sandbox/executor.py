"""GraphQL over the schema file with graphql-core: parse, validate, score, execute (vendors.md
§6.4.1). A request is parsed and validated once per distinct query text (an LRU cache), so a
connector sending one query with new variables pays for validation once.

Errors take Linear's shape: `{"message", "extensions": {"code", "type", "userError",
"userPresentableMessage"}}` (the type strings are those of Linear's SDK `error.ts`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from .limits import complexity

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
ERROR_TYPES = {
    "GRAPHQL_PARSE_FAILED": "graphql error",
    "GRAPHQL_VALIDATION_FAILED": "graphql error",
    "AUTHENTICATION_ERROR": "authentication error",
    "RATELIMITED": "ratelimited",
    "INVALID_INPUT": "invalid input",
    "INTERNAL_ERROR": "internal error",
    "FORBIDDEN": "forbidden",
}


def error(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    """One error object of a Linear GraphQL answer."""
    user_error = code not in ("INTERNAL_ERROR",)
    return {
        "message": message,
        "extensions": {
            "code": code,
            "type": ERROR_TYPES.get(code, "unknown"),
            "userError": user_error,
            "userPresentableMessage": message,
            **extensions,
        },
    }


@dataclass
class Prepared:
    """A validated request, ready to score and execute."""

    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    operation_name: str | None

    @property
    def root_field(self) -> str | None:
        """The first root field (`issues`), what faults and the journal key on."""
        for selection in self.operation.selection_set.selections:
            name = getattr(selection, "name", None)
            if name is not None:
                return str(name.value)
        return None


class Executor:
    """The schema, a cache of validated documents, and the three steps the app runs in turn."""

    def __init__(self, schema_sdl: str | None = None, cache_size: int = 256) -> None:
        self.schema = build_schema(schema_sdl or SCHEMA_PATH.read_text(encoding="utf-8"))
        self._cache: OrderedDict[str, DocumentNode | list[dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size

    def prepare(self, body: dict[str, Any]) -> Prepared | list[dict[str, Any]]:
        """Parse and validate a request body → `Prepared`, or the error list of a 400 answer."""
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return [error("GRAPHQL_PARSE_FAILED", "Must provide query string.")]
        document = self._document(query)
        if isinstance(document, list):
            return document
        name = body.get("operationName") or None
        operation = get_operation_ast(document, name)
        if operation is None:
            return [error("GRAPHQL_VALIDATION_FAILED", f"Unknown operation named {name!r}.")]
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return [error("INVALID_INPUT", "Variables must be an object.")]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return Prepared(document, operation, fragments, variables, name)

    def complexity(self, prepared: Prepared) -> int:
        return complexity(self.schema, prepared.operation, prepared.fragments, prepared.variables)

    def execute(self, prepared: Prepared, root: object) -> ExecutionResult:
        result = execute(
            self.schema,
            prepared.document,
            root_value=root,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
        )
        assert isinstance(result, ExecutionResult)  # every resolver here is synchronous
        return result

    def _document(self, query: str) -> DocumentNode | list[dict[str, Any]]:
        cached = self._cache.get(query)
        if cached is not None:
            self._cache.move_to_end(query)
            return cached
        result = self._parse_and_validate(query)
        self._cache[query] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def _parse_and_validate(self, query: str) -> DocumentNode | list[dict[str, Any]]:
        try:
            document = parse(query)
        except GraphQLError as exc:
            return [_located(exc, "GRAPHQL_PARSE_FAILED")]
        problems = validate(self.schema, document)
        if problems:
            return [_located(exc, "GRAPHQL_VALIDATION_FAILED") for exc in problems]
        return document


def _located(exc: GraphQLError, code: str) -> dict[str, Any]:
    """A parse or validation error: message and locations, `extensions.code` (Apollo's codes)."""
    body = error(code, exc.message)
    if exc.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in exc.locations]
    return body


def format_errors(result: ExecutionResult) -> list[dict[str, Any]]:
    """Execution errors in Linear's shape; a resolver's `SandboxError` keeps its code."""
    out = []
    for exc in result.errors or ():
        original = exc.original_error
        code = getattr(original, "code", None) or (
            "INVALID_INPUT" if original is None else "INTERNAL_ERROR"
        )
        body = error(code, exc.message)
        if exc.path:
            body["path"] = list(exc.path)
        if exc.locations:
            body["locations"] = [{"line": loc.line, "column": loc.column} for loc in exc.locations]
        out.append(body)
    return out
