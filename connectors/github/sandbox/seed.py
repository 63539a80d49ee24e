"""Deterministic seeded repos: `seed_world(seed, …)` and `bulk_seed(world, repo, n)` (§6.1.1).

Same seed, sizes and start time → identical data. Issues and pull requests share one number
sequence per repo; timestamps lie in the `span_days` before the clock's start; some issues are
closed (completed / not planned), some reopened, some commented on, some written by a bot.
"""

from __future__ import annotations

import random

from .clock import SandboxClock
from .world import Issue, World

DEFAULT_REPOS = ("octo-org/widgets", "octo-org/gadgets")
HUMANS = ("octocat", "mona", "hubot-jr", "ayse-dev", "li-wei", "jose-m", "zoe-k")
BOT = "dependabot[bot]"
LABELS = {
    "bug": ("d73a4a", "Something isn't working"),
    "enhancement": ("a2eeef", "New feature or request"),
    "documentation": ("0075ca", "Improvements or additions to documentation"),
    "good first issue": ("7057ff", "Good for newcomers"),
    "help wanted": ("008672", "Extra attention is needed"),
    "wontfix": ("ffffff", "This will not be worked on"),
    "🔥 priority": ("b60205", None),
}
VERBS = ("Fix", "Add", "Support", "Document", "Refactor", "Speed up", "Remove", "Handle")
THINGS = (
    "pagination of widgets",
    "the CSV export",
    "Unicode filenames (ünïcödé)",
    "dark mode",
    "retry on 502",
    "timezone handling",
    "the CLI's --verbose flag",
    "emoji in titles 🎉",
    "memory use of the importer",
    "a crash on empty input",
)
BODIES = (
    "Steps to reproduce:\n1. Open the app\n2. Click *Export*\n\nExpected: a file. Actual: nothing.",
    "Would be great to have this. 👍",
    "Seen on 2.3.1 — `TypeError: 'NoneType' object is not subscriptable`.",
    "日本語のテキストも正しく表示されるべきです。",
    "Long report follows.\n\n" + "The importer slows down as the file grows. " * 40,
)
COMMENTS = ("+1", "Can reproduce on main.", "Fixed in #{n}? 🤔", "LGTM 🚀", "Thanks — merged.")


def seed_world(
    seed: int = 1,
    *,
    clock: SandboxClock,
    repos: tuple[str, ...] = DEFAULT_REPOS,
    issues_per_repo: int = 40,
    max_comments: int = 4,
    span_days: float = 90.0,
) -> World:
    """A world with `repos`, each holding `issues_per_repo` issues and PRs (about one in four)."""
    world = World(clock)
    for login in HUMANS:
        world.add_user(login)
    world.add_user(BOT, "Bot")
    start = clock.now()
    for index, name in enumerate(repos):
        repo = world.add_repo(name, created_at=start - (span_days + 30) * 86_400)
        for label, (color, description) in LABELS.items():
            world.add_label(repo, label, color, description=description, default=label == "bug")
        rng = random.Random(f"{seed}:{index}")
        bulk_seed(
            world, name, issues_per_repo, rng=rng, max_comments=max_comments, span_days=span_days
        )
    return world


def bulk_seed(
    world: World,
    full_name: str,
    count: int,
    *,
    rng: random.Random | None = None,
    max_comments: int = 0,
    span_days: float = 90.0,
) -> int:
    """Add `count` seeded issues (created and updated in the past) to `full_name`; returns count.

    Creation times rise with the number, as on GitHub; used for 10⁴-issue benchmarks too.
    """
    rng = rng or random.Random(f"bulk:{full_name}:{count}")
    world.add_repo(full_name)
    with world.quiet():
        _bulk(world, full_name, count, rng, max_comments, span_days)
    return count


def _bulk(
    world: World,
    full_name: str,
    count: int,
    rng: random.Random,
    max_comments: int,
    span_days: float,
) -> None:
    end = world.now
    begin = end - span_days * 86_400
    step = (end - begin) / max(count, 1)
    for k in range(count):
        created = int(begin + k * step + rng.random() * step * 0.5)
        issue = _seeded_issue(world, full_name, rng, created)
        for _ in range(rng.randint(0, max_comments) if max_comments else 0):
            _seeded_comment(world, full_name, issue, rng, end)
        _seeded_life(world, issue, rng, end)


def _seeded_issue(world: World, full_name: str, rng: random.Random, created: int) -> Issue:
    labels = world.repo(full_name).labels
    return world.create_issue(
        full_name,
        f"{rng.choice(VERBS)} {rng.choice(THINGS)}",
        body=rng.choice((*BODIES, None)),
        user=BOT if rng.random() < 0.08 else rng.choice(HUMANS),
        labels=rng.sample(sorted(labels), rng.randint(0, 2)) if labels else [],
        assignees=rng.sample(HUMANS, rng.choice((0, 0, 1, 2))),
        pull_request=rng.random() < 0.25,
        at=created,
    )


def _seeded_comment(
    world: World, full_name: str, issue: Issue, rng: random.Random, end: float
) -> None:
    at = int(issue.updated_at + rng.random() * (end - issue.updated_at) * 0.3)
    text = rng.choice(COMMENTS).replace("{n}", str(rng.randint(1, 999)))
    comment = world.add_comment(full_name, issue.number, text, user=rng.choice(HUMANS), at=at)
    if rng.random() < 0.2:  # edited later
        comment.updated_at = int(at + rng.random() * (end - at))


def _seeded_life(world: World, issue: Issue, rng: random.Random, end: float) -> None:
    """Close some issues (merge some PRs), reopen a few, and bump `updated_at` accordingly."""
    roll = rng.random()
    updated = int(issue.updated_at + rng.random() * (end - issue.updated_at) * 0.5)
    if roll < 0.45:
        issue.state = "closed"
        issue.state_reason = "not_planned" if roll < 0.07 else "completed"
        issue.closed_at, issue.closed_by = updated, rng.choice(HUMANS)
        if issue.is_pull_request and issue.state_reason == "completed":
            issue.merged_at = updated
    elif roll < 0.5:
        issue.state_reason = "reopened"
    issue.draft = issue.is_pull_request and roll > 0.95
    issue.updated_at = max(issue.updated_at, updated)
