"""Signature checks for webhook handlers: HMAC-SHA256 in constant time, and the replay window."""

from __future__ import annotations

import hashlib
import hmac

from pipeline.webhooks.handler import SignatureError


def signature_hex(secret: str, message: bytes) -> str:
    """`hex(HMAC-SHA256(secret, message))`, the scheme every vendor of DESIGN §8 uses."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_hmac(secret: str, message: bytes, given: str | None, prefix: str = "") -> None:
    """Raise `SignatureError` unless `given` is `prefix + hex(HMAC-SHA256(secret, message))`.

    The compare takes the same time wherever the strings differ, so a timing probe learns nothing.
    """
    if not given:
        raise SignatureError("the signature header is missing")
    expected = prefix + signature_hex(secret, message)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureError("the signature does not match the body")


def check_window(timestamp: str | float | None, now: float, window_s: float) -> None:
    """Raise `SignatureError` unless `timestamp` (Unix seconds) is within `window_s` of `now`."""
    try:
        sent = float(timestamp)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SignatureError("the request timestamp is missing or not a number") from None
    if abs(now - sent) > window_s:
        raise SignatureError(f"the request timestamp is more than {window_s:.0f} s away: replay?")
