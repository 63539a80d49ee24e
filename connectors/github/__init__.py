"""GitHub: `github-issues`, `github-comments` (DESIGN §7; vendors.md §4.1)."""
