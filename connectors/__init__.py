"""Shipped connectors. Importing this package registers every stream (explicit list, greppable)."""

from connectors import slack

__all__ = ["slack"]
