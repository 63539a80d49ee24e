"""Opaque key-set cursors (vendors.md §6.1.4): base64 of (order, sort key, id, page) plus an HMAC.

A cursor names the last node of a page, so it stays valid while issues are added, edited or
purged around it. A tampered, foreign or invalidated cursor is refused; `invalidate()` makes
every cursor issued so far fail, to test restart logic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from .store import SandboxError


@dataclass(frozen=True)
class Position:
    """Where a page ended: the sort key and id of its last node, and that page's number."""

    order: str
    key: int
    id: str
    page: int


class Cursors:
    def __init__(self, secret: bytes = b"linear-sandbox") -> None:
        self._secret = secret
        self._generation = 0

    def invalidate(self) -> None:
        self._generation += 1

    def encode(self, position: Position) -> str:
        raw = f"{position.order}|{position.key}|{position.id}|{position.page}".encode()
        body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: str) -> Position:
        body, _, signature = cursor.partition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise SandboxError("Argument Validation Error: invalid cursor", "INVALID_INPUT")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        order, key, node_id, page = raw.split("|")
        return Position(order, int(key), node_id, int(page))

    def page_of(self, cursor: str | None) -> int | None:
        """The page a request for `cursor` would fetch (1 for none); None when it is not ours."""
        if not cursor:
            return 1
        try:
            return self.decode(cursor).page + 1
        except (SandboxError, ValueError):
            return None

    def _sign(self, body: str) -> str:
        key = self._secret + str(self._generation).encode()
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:16]
