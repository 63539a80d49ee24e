"""The import boundaries of DESIGN §2 and §7, and the pinned public surface of `pipeline`.

`pipeline/` names no vendor and imports neither `connectors` nor `sinks` (the sink is injected
through the `pipeline.sinks` entry point); connectors import only `pipeline` and `pipeline.testing`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pipeline

ROOT = Path(__file__).resolve().parents[2]
VENDORS = re.compile(r"\b(slack|github|linear)\b", re.I)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_engine_imports_neither_connectors_nor_sinks() -> None:
    bad = {
        str(path.relative_to(ROOT)): name
        for path in modules("pipeline")
        for name in imports(path)
        if name.split(".")[0] in ("connectors", "sinks")
    }
    assert bad == {}


def test_engine_code_names_no_vendor() -> None:
    named = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in modules("pipeline")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if VENDORS.search(line)
    ]
    assert named == []


def test_sinks_import_only_the_engine() -> None:
    for path in modules("sinks"):
        assert {n.split(".")[0] for n in imports(path)} & {"connectors"} == set(), path


def test_connectors_import_only_the_public_surface() -> None:
    allowed = {"pipeline", "pipeline.testing"}
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("connectors")
        for name in imports(path)
        if (name.startswith("pipeline") and name not in allowed) or name.startswith("sinks")
    }
    assert bad == set()


def test_public_surface_is_pinned() -> None:
    assert sorted(pipeline.__all__) == sorted([
        "AccessLostError", "ApiKey", "AuthError", "BearerToken", "BudgetSpent", "Change",
        "ChangeSource", "Checkpoint", "Clock", "Column", "ConfigError", "Connector",
        "ConnectorConfig", "CursorPaginator", "EntityLookup", "Event", "HttpClient", "IncompleteError",
        "InvalidCursorError", "KEEP_CHECKPOINT", "LinkPaginator", "MalformedPageError",
        "OffsetPaginator", "OutboxConsumer", "Page", "PageNumberPaginator", "PageRequest",
        "PageTooLargeError", "PipelineError", "RateLimitedError", "Regime", "RelayPaginator",
        "RestStream", "RetryPolicy",
        "ScopeCheckpoint", "SourceContext", "SourceError", "Stream", "Sweep", "TransientError",
        "connector", "entity_table",
        "PayloadError", "SignatureError", "WebhookChanges", "WebhookRequest", "check_hmac",
        "check_window",
    ])  # fmt: skip
