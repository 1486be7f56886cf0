"""The local sandbox gateway: a real HTTP server speaking PingPong V4 on loopback.

::

    from paycode.sandbox import SandboxServer
    with SandboxServer(wallets=host.wallets.values(), signers=host.signers) as srv:
        srv.base_url, srv.credentials          # where to send, and the merchant account it accepts
        srv.faults.drop_after_commit = True    # fault switches (paycode.sandbox.faults)
        srv.orders()                           # what happened: status, charged count, refunds

docs/sandbox.md documents the test-code table, the checks, the fault switches and the
notification schedule.
"""

from __future__ import annotations

from ..netaddr import is_loopback
from .dispatch import V4_PATHS
from .faults import FAULTS, Faults, FaultSwitch, parse_fault
from .ledger import Credentials, OrderView, RefundView
from .notifier import NOTIFY_SCHEDULE, DeliveryView
from .scenarios import ALL_SCENARIOS, RESULT_SCENARIOS, SCENARIOS, Scenario, scenario_codes, scenario_for
from .server import SandboxServer, default_signers

__all__ = [
    "ALL_SCENARIOS",
    "FAULTS",
    "NOTIFY_SCHEDULE",
    "SCENARIOS",
    "V4_PATHS",
    "Credentials",
    "DeliveryView",
    "FaultSwitch",
    "Faults",
    "OrderView",
    "RESULT_SCENARIOS",
    "RefundView",
    "SandboxServer",
    "Scenario",
    "default_signers",
    "is_loopback",
    "parse_fault",
    "scenario_codes",
    "scenario_for",
]
