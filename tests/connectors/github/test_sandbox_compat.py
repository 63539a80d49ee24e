"""The sandbox speaks real GitHub: PyGithub works against it over real HTTP (vendors.md §6.1.10).

PyGithub follows `Link` headers, reads `x-ratelimit-*`, follows `url` fields for lazy objects,
and raises GithubException(410) for a deleted issue. The server runs on 127.0.0.1 in a
background thread; nothing sleeps (PyGithub's own pause between requests is switched off).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from github import Auth, Github, GithubException

from connectors.github.sandbox import Sandbox
from pipeline.cli import main

REPO = "octo-org/widgets"


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=2)


@pytest.fixture
def url(sandbox: Sandbox) -> Iterator[str]:
    with sandbox.serving() as root:
        yield root


@pytest.fixture
def github(sandbox: Sandbox, url: str) -> Iterator[Github]:
    client = Github(
        auth=Auth.Token(sandbox.token),
        base_url=url,
        per_page=7,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    yield client
    client.close()


def test_pygithub_pages_issues_by_link_header(sandbox: Sandbox, github: Github) -> None:
    repo = github.get_repo(REPO)

    issues = list(repo.get_issues(state="all", sort="updated", direction="asc"))

    assert [i.number for i in issues] == [
        i.number for i in sorted(sandbox.issues(REPO), key=lambda i: (i.updated_at, i.number))
    ]
    assert sandbox.calls["list_issues"] == -(-len(issues) // 7) == 6
    assert {i.pull_request is not None for i in issues} == {True, False}


def test_pygithub_gets_an_issue_and_its_comments(sandbox: Sandbox, github: Github) -> None:
    number = next(i.number for i in sandbox.issues(REPO) if i.comments >= 2)
    sandbox.add_comment(REPO, number, "über 🚀")

    issue = github.get_repo(REPO).get_issue(number)
    bodies = [c.body for c in issue.get_comments()]
    everything = list(github.get_repo(REPO).get_issues_comments(sort="updated", direction="asc"))

    assert issue.title == sandbox.issue(REPO, number).title and bodies[-1] == "über 🚀"
    assert len(everything) == len(sandbox.comments(REPO))
    assert github.get_user().login == "sandbox-bot"


def test_pygithub_sees_a_deleted_issue_as_410(sandbox: Sandbox, github: Github) -> None:
    sandbox.delete_issue(REPO, 3)

    with pytest.raises(GithubException) as caught:
        github.get_repo(REPO).get_issue(3)

    assert caught.value.status == 410


def test_pygithub_reads_the_rate_limit(sandbox: Sandbox, github: Github) -> None:
    github.get_repo(REPO).get_issue(1)

    core = github.get_rate_limit().resources.core

    assert (core.limit, core.remaining) == (5000, 4998)


def test_real_http_timeout_is_a_gateway_504_and_gzip_is_honoured(
    sandbox: Sandbox, url: str
) -> None:
    sandbox.faults.timeout(route="get_issue")
    headers = {"Authorization": f"Bearer {sandbox.token}", "Accept-Encoding": "gzip"}

    with httpx.Client(base_url=url, headers=headers) as http:
        timed_out = http.get(f"/repos/{REPO}/issues/1")
        ok = http.get(f"/repos/{REPO}/issues/1")

    assert timed_out.status_code == 504 and ok.headers["content-encoding"] == "gzip"
    assert ok.json()["number"] == 1


def test_serve_prints_one_banner_line_after_binding() -> None:
    code = "from connectors.github.sandbox import serve; serve(0, seed=1)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline() if process.stdout else ""
        root = banner.split(" on ", 1)[1].split(" ", 1)[0]
        answer = httpx.get(f"{root}/user", headers={"Authorization": "token ghp_sandbox_token"})
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()

    assert (
        banner.startswith("GitHub sandbox on http://127.0.0.1:") and "ghp_sandbox_token" in banner
    )
    assert answer.json()["login"] == "sandbox-bot"


def test_serve_on_a_busy_port_is_one_clear_line(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    port = int(url.rsplit(":", 1)[1])

    code = main(["sandbox", "github", "--port", str(port)])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        f"error: port {port} is already in use: stop what listens there or pick another with --port\n"
    )
