"""paycode-alipayhk against paycode's wallet conformance suite (paycode.testing), loaded through its entry point."""

from __future__ import annotations

from paycode.testing import WalletConformance


class TestAlipayHKConformance(WalletConformance):
    entry_point = "alipayhk"
