"""The connector contract suite, applied to an in-process Acme-shaped connector (three lines)."""

from pipeline.testing import stream_contract
from tests.sdk.demo_connector import DemoSandbox

TestDemoTickets = stream_contract("demo-tickets", DemoSandbox)
