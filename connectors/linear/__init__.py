"""Linear: `linear-issues` (DESIGN §7; vendors.md §4.2)."""
