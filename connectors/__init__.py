"""Shipped connectors; each registers itself through the `pipeline.connectors` entry-point group."""
