"""``paycode demo``: the whole flow on this machine, with no hardware and no account.

It starts the embedded sandbox gateway, feeds a WeChat Pay test code through a real
scanner path (a pseudo-terminal serial port when the serial plugin is installed, else
the replay scanner reading a temporary file), pays 12.50 CNY in the sandbox's
``password_then_success`` scenario (the shopper confirms after two queries), refunds
2.50 of it, and prints a receipt. The journal goes to a temporary folder unless
``--journal`` or ``PAYCODE_JOURNAL`` names one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..host import PluginHost
    from ..models import WalletType
    from ..supervisor import ScanSupervisor

HELP = "pay and partly refund a test payment against the embedded sandbox, showing every step (no account needed)"

AMOUNT = Decimal("12.50")
REFUND = Decimal("2.50")
CURRENCY = "CNY"
#: sandbox test-code ending of the password_then_success scenario (docs/sandbox.md)
SCENARIO_ENDING = "003"
POLL_INTERVAL = 0.3
DEADLINE = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the steps as JSON lines, then a result line")
    parser.add_argument("--journal", metavar="FILE", help="journal file (default: PAYCODE_JOURNAL, else a temp file)")


def _wallet(host: PluginHost) -> WalletType:
    from ..errors import ConfigError

    preferred = host.wallets.get("Wechat-Offline")
    if preferred is not None and CURRENCY in preferred.currencies:
        return preferred
    for wallet in host.wallets.values():
        if CURRENCY in wallet.currencies:
            return wallet
    raise ConfigError(f"paycode demo needs a wallet plugin that accepts {CURRENCY}; install paycode-wechat")


@contextmanager
def _scanner(host: PluginHost, code: str, folder: Path) -> Iterator[tuple[ScanSupervisor, str]]:
    """An open scanner that will read ``code``: over a pty serial port, or replayed from a file."""
    if "serial" in host.scanners and hasattr(os, "openpty"):
        master, slave = os.openpty()
        try:
            url = f"serial://{os.ttyname(slave)}?suffix=cr"
            with host.open_scanner(url) as supervisor:
                supervisor.open()  # opening flushes the port: write the scan after it
                os.write(master, code.encode("ascii") + b"\r")
                yield supervisor, "serial port (pseudo-terminal)"
        finally:
            os.close(master)
            os.close(slave)
        return
    scans = folder / "scans.txt"
    scans.write_text(code + "\n", encoding="ascii")
    with host.open_scanner(f"replay://{scans}") as supervisor:
        yield supervisor, "replay scanner"


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..masking import mask_code
    from ..models import Money
    from ..settings import Settings
    from ..terminal import Terminal, outcome
    from ._steps import StepPrinter, payment_json

    with tempfile.TemporaryDirectory(prefix="paycode-demo-") as temp:
        folder = Path(temp)
        journal = args.journal or os.environ.get("PAYCODE_JOURNAL") or str(folder / "journal.sqlite3")
        settings = Settings.load(
            config=args.config, gateway="sandbox", journal=journal, poll_interval=POLL_INTERVAL, deadline=DEADLINE
        )
        settings.gateway = "sandbox"  # the demo never talks to a real gateway, whatever the environment says
        printer = StepPrinter(json_lines=args.json)
        host = PluginHost(settings, plugins=[printer])
        wallet = _wallet(host)
        code = wallet.patterns[0].make(SCENARIO_ENDING)
        try:
            with Terminal(settings, host=host) as terminal:
                if not args.json:
                    printer.line(f"paycode demo: sandbox gateway at {terminal.gateway.base_url}, journal {journal}")
                with _scanner(host, code, folder) as (supervisor, how):
                    if not args.json:
                        printer.line(f"shopper   shows {wallet.label} code {mask_code(code)} to the {how}")
                    payment = terminal.pay(Money(AMOUNT, CURRENCY), supervisor=supervisor, scan_timeout=10.0)
                if outcome(payment) != "paid":
                    printer.result(payment_json(payment, outcome(payment)), f"demo payment ended {payment.status}")
                    return 1
                refund = terminal.refund(payment.merchant_transaction_id, REFUND)
        finally:
            printer.close()
        net = payment.money.wire() - refund.refunded
        data = {
            **payment_json(payment, "demo"),
            "refunded": str(refund.refunded),
            "net": str(net),
            "refund_status": refund.status.value,
            "journal": journal,
        }
        receipt = "\n".join(
            [
                "------------------ receipt ------------------",
                f"order        {payment.merchant_transaction_id}",
                f"wallet       {wallet.label} ({payment.wallet})",
                f"code         {payment.code_masked}",
                f"paid         {payment.money}   transaction {payment.transaction_id}",
                f"refunded     {refund.refunded} {CURRENCY}   ({refund.status.value}, {refund.refund_id})",
                f"net          {net} {CURRENCY}",
                "---------------------------------------------",
            ]
        )
        printer.result(data, receipt)
        return 0 if refund.status.value == "SUCCESS" else 3
