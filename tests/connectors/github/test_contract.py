"""The connector contract suite on both GitHub streams, against the GitHub sandbox."""

from connectors.github.sandbox.contract import CONFIG, ContractGitHub
from pipeline.testing import stream_contract

TestGitHubIssues = stream_contract("github-issues", ContractGitHub, CONFIG)
TestGitHubComments = stream_contract("github-comments", ContractGitHub, CONFIG)
