"""GitHub: `github-issues` (issues and pull requests) and `github-comments` (DESIGN §7;
vendors.md §4.1). Config: `repos = ["owner/name", …]`; token from `GITHUB_TOKEN` or `token_env`."""

from connectors.github.client import github
from connectors.github.streams import Comments, Issues
from connectors.github.webhooks import GitHubWebhooks

github.webhook = GitHubWebhooks()  # POST /webhooks/github: `issues`, `issue_comment` (webhooks.py)

__all__ = ["Comments", "Issues", "github"]
