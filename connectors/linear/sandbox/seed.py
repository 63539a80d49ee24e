"""Deterministic seeding: the same `seed` and sizes always give byte-identical workspaces
(vendors.md §6.1.1). Ids are UUIDs, identifiers `ENG-12`; titles mix ASCII, accents and emoji;
some issues are done, canceled, archived or trashed; `bulk_seed` adds N more in linear time.
"""

from __future__ import annotations

import random

from .store import Issue, Named, SandboxClock, State, Store, Team, User, new_id

TEAMS = (("ENG", "Engineering"), ("DES", "Design"), ("OPS", "Operations"))
WORKFLOW = (  # (name, type, colour): Linear's default workflow per team
    ("Backlog", "backlog", "#bec2c8"),
    ("Todo", "unstarted", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("In Review", "started", "#0f783c"),
    ("Done", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
)
USERS = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Émilie du Châtelet",
    "Katherine Johnson",
    "Linus Torvalds",
    "Margaret Hamilton",
    "Søren Kierkegaard",
)
PROJECTS = ("Q1 Launch", "Mobile app", "Billing v2", "Onboarding 🚀")
LABELS = (
    ("Bug", "#eb5757"),
    ("Feature", "#bb87fc"),
    ("Improvement", "#4ea7fc"),
    ("Docs", "#26b5ce"),
    ("Security", "#f2994a"),
)
VERBS = ("Fix", "Add", "Remove", "Refactor", "Document", "Investigate", "Speed up", "Localise")
THINGS = (
    "login flow",
    "billing webhook",
    "search index",
    "CSV export",
    "dark mode",
    "rate limiter",
    "onboarding email",
    "café menu ☕",
    "naïve date parsing",
    "emoji picker 🎉",
)
DAY_MS = 86_400_000


def seed_store(seed: int = 1, clock: SandboxClock | None = None, *, issues: int = 60) -> Store:
    """A workspace with 3 teams, 8 users, 4 projects, 5 labels and `issues` issues spread over
    the 90 days before now; a few done, canceled, archived or trashed."""
    store = Store(clock or SandboxClock())
    rng = random.Random(seed)
    store.rng = random.Random(seed * 7919 + 1)
    store.org["id"] = new_id(rng)
    now = store.now_ms()
    start = now - 120 * DAY_MS
    for name in USERS:
        email = name.split()[0].lower().replace("é", "e").replace("ø", "o") + "@sandbox.test"
        user = User(new_id(rng), name, email, start)
        store.users[user.id] = user
    store.viewer_id = next(iter(store.users))
    for key, name in TEAMS:
        team = Team(new_id(rng), key, name, start)
        store.teams[team.id] = team
        for position, (state, kind, color) in enumerate(WORKFLOW):
            row = State(new_id(rng), team.id, state, kind, color, float(position), start)
            store.states[row.id] = row
    for name in PROJECTS:
        project = Named(new_id(rng), name, "#5e6ad2", start)
        store.projects[project.id] = project
    for name, color in LABELS:
        label = Named(new_id(rng), name, color, start)
        store.labels[label.id] = label
    bulk_seed(store, issues, seed, soft_deletes=True)
    return store


def bulk_seed(store: Store, n: int, seed: int = 0, *, soft_deletes: bool = False) -> list[str]:
    """Add `n` issues created and updated during the 90 days before now (no one updated in the
    future), round-robin over teams; returns their ids. Linear in `n` (a 10,000-issue bench)."""
    rng = random.Random(f"bulk:{seed}:{len(store.issues)}")
    now = store.now_ms()
    teams = list(store.teams.values())
    ids = []
    for k in range(n):
        issue = _issue(store, rng, teams[k % len(teams)], now)
        if soft_deletes:
            _maybe_soft_delete(issue, rng, now)
        if issue.trashed:
            store.trashed_ids.add(issue.id)
        store.issues[issue.id] = issue
        ids.append(issue.id)
    store.touch()
    return ids


def _issue(store: Store, rng: random.Random, team: Team, now: int) -> Issue:
    states = [s for s in store.states.values() if s.team_id == team.id]
    state = rng.choice(states)
    created = now - rng.randrange(1, 90 * DAY_MS)
    updated = created + rng.randrange(0, min(30 * DAY_MS, now - created))
    issue = Issue(
        id=new_id(rng),
        team_id=team.id,
        number=team.next_number,
        title=f"{rng.choice(VERBS)} {rng.choice(THINGS)}",
        state_id=state.id,
        created_ms=created,
        updated_ms=updated,
        description=_description(rng),
        priority=rng.randrange(0, 5),
        estimate=rng.choice((None, 1.0, 2.0, 3.0, 5.0, 8.0)),
        assignee_id=rng.choice((None, *store.users)),
        creator_id=rng.choice(list(store.users)),
        project_id=rng.choice((None, None, *store.projects)),
        label_ids=sorted(rng.sample(list(store.labels), rng.randrange(0, 3))),
    )
    team.next_number += 1
    if state.type in ("started", "completed", "canceled"):
        issue.started_ms = created + (updated - created) // 3
    if state.type == "completed":
        issue.completed_ms = updated
    if state.type == "canceled":
        issue.canceled_ms = updated
    return issue


def _maybe_soft_delete(issue: Issue, rng: random.Random, now: int) -> None:
    """About 1 in 12 archived and 1 in 30 trashed (within the grace period, so not purged yet)."""
    roll = rng.random()
    if roll < 1 / 12:
        issue.archived_ms = rng.randrange(issue.updated_ms, now)
    elif roll < 1 / 12 + 1 / 30:
        issue.trashed = True
        issue.trashed_ms = issue.archived_ms = max(issue.updated_ms, now - 5 * DAY_MS)


def _description(rng: random.Random) -> str | None:
    kind = rng.randrange(4)
    if kind == 0:
        return None
    if kind == 1:
        return "Steps to reproduce:\n\n1. Open the app\n2. Click **Save**\n\nExpected: it saves."
    if kind == 2:
        return "Ça ne marche pas — voir le journal ⚠️"
    return " ".join(rng.choice(THINGS) for _ in range(rng.randrange(20, 200)))


def churn(
    store: Store,
    seed: int,
    *,
    edit_ratio: float = 0.05,
    archive_ratio: float = 0.01,
    trash_ratio: float = 0.005,
) -> dict[str, int]:
    """Seeded random churn over live issues (§6.1.3): edit the title or state of `edit_ratio`,
    archive `archive_ratio`, trash `trash_ratio`; returns the counts."""
    rng = random.Random(f"churn:{seed}")
    live = sorted(i.id for i in store.issues.values() if i.archived_ms is None)
    picked = rng.sample(
        live, min(len(live), round(len(live) * (edit_ratio + archive_ratio + trash_ratio)))
    )
    edits, archives = round(len(live) * edit_ratio), round(len(live) * archive_ratio)
    for issue_id in picked[:edits]:
        if rng.random() < 0.5:
            store.update_issue(issue_id, title=f"{rng.choice(VERBS)} {rng.choice(THINGS)} (v2)")
        else:
            store.update_issue(issue_id, state=rng.choice([s for s, _, _ in WORKFLOW]))
    for issue_id in picked[edits : edits + archives]:
        store.archive(issue_id)
    for issue_id in picked[edits + archives :]:
        store.trash(issue_id)
    return {"edited": edits, "archived": archives, "trashed": len(picked) - edits - archives}
