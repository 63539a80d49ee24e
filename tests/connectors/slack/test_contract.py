"""The connector contract suite on `slack-messages`, against the Slack sandbox."""

from connectors.slack.sandbox.contract import ContractSlack
from pipeline.testing import stream_contract

TestSlackMessages = stream_contract("slack-messages", ContractSlack)
