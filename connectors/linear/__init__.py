"""Linear (GraphQL): the `linear-issues` stream and its sandbox (DESIGN §7, vendors.md §4.2)."""
