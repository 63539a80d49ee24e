"""The connector contract suite on `linear-issues` (pages of 20 so a walk has several)."""

from connectors.linear.sandbox import contract_sandbox
from pipeline.testing import stream_contract

TestLinearIssues = stream_contract("linear-issues", contract_sandbox, config={"page_size": 20})
