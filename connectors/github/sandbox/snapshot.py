"""Ground truth (§6.1.9): every live issue and comment, and what was deleted or moved when."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .world import World


def snapshot(world: World) -> dict[str, Any]:
    """The oracle tests compare a synced database against: plain data, no URLs."""
    return {
        "now": world.now,
        "users": [asdict(u) for u in world.users.values()],
        "repos": {
            name: {
                "id": repo.id,
                "issues": [asdict(i) for i in sorted(repo.issues.values(), key=lambda i: i.number)],
                "comments": [asdict(c) for c in sorted(repo.comments.values(), key=lambda c: c.id)],
                "labels": sorted(repo.labels),
                "deleted": {str(n): at for n, at in repo.deleted.items()},
                "transferred": {str(n): f"{to}#{m}" for n, (to, m) in repo.transferred.items()},
            }
            for name, repo in world.repos.items()
        },
        "deleted_comments": {str(c): at for c, at in world.deleted_comments.items()},
    }
