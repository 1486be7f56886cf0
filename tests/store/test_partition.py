"""A network partition between a lane and the store's PostgreSQL, with the lane in a network namespace of its own.

The lane (its own process, the embedded sandbox as its gateway) reaches PostgreSQL over a veth pair; the test
cuts the link (``ip link set … down``) while the shopper is typing the password. A payment started during the
cut is refused with a clear error (nothing is sent: the journal cannot take its intent); the payment in flight
is followed to SUCCESS, its journal writes kept and retried, and recorded once the link is back. Needs root and
``ip`` (iproute2); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from paycode.journal import open_journal
from paycode.models import PaymentStatus
from paycode.store.tempserver import TempPostgres, find_bin

LANE = r"""
import json, sys, threading
from paycode import Settings, Terminal
from paycode.errors import JournalError
dsn = sys.argv[1]
settings = Settings(gateway="sandbox", journal=dsn, poll_interval=0.3, deadline=60, lane="lane-p", read_timeout=5)
terminal = Terminal(settings, recover=False)
other = Terminal(settings, recover=False)
result = {}
def pay():
    try:
        result["status"] = terminal.pay("12.50", "CNY", code="131234567890123007", order_id="inflight").status.value
    except BaseException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
flight = threading.Thread(target=pay)
flight.start()
print("paying", flush=True)
assert sys.stdin.readline().strip() == "cut"
try:
    other.pay("3.00", "CNY", code="131234567890124001", order_id="during")
    print(json.dumps({"during": "paid"}), flush=True)
except JournalError as exc:
    print(json.dumps({"during": str(exc)}), flush=True)
assert sys.stdin.readline().strip() == "restored"
flight.join(120)
print(json.dumps({"inflight": result}), flush=True)
after = other.pay("3.00", "CNY", code="131234567890125001", order_id="after")
print(json.dumps({"after": after.status.value}), flush=True)
terminal.close()
other.close()
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def namespace() -> Iterator[tuple[str, str, str, str]]:
    """A network namespace with a veth link to this one: (namespace, host-side link, host address, lane address)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a network partition needs root and iproute2's ip (network namespaces)")
    if find_bin() is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed (Debian package: postgresql)")
    tag = secrets.token_hex(3)
    ns, host_link, lane_link = f"paycode{tag}", f"pch{tag}", f"pcl{tag}"
    third = int(tag[:2], 16)
    host_ip, lane_ip = f"10.251.{third}.1", f"10.251.{third}.2"
    try:
        ip("netns", "add", ns)
        ip("link", "add", host_link, "type", "veth", "peer", "name", lane_link)
        ip("link", "set", lane_link, "netns", ns)
        ip("addr", "add", f"{host_ip}/30", "dev", host_link)
        ip("link", "set", host_link, "up")
        ip("-n", ns, "addr", "add", f"{lane_ip}/30", "dev", lane_link)
        ip("-n", ns, "link", "set", lane_link, "up")
        ip("-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip(f"network namespaces are not available here: {exc.stderr.strip()}")
    try:
        yield ns, host_link, host_ip, lane_ip
    finally:
        subprocess.run(["ip", "link", "del", host_link], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.slow
def test_a_partition_between_a_lane_and_postgresql(namespace: tuple[str, str, str, str]) -> None:
    ns, host_link, host_ip, lane_ip = namespace
    with TempPostgres(max_connections=40, also_listen=(host_ip,), trust=(f"{lane_ip}/32",)) as server:
        server.create_database("shop")
        open_journal(server.dsn("shop")).close()  # migrated
        lane_dsn = f"postgresql://postgres@{host_ip}:{server.port}/shop"
        lane = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", LANE, lane_dsn],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert lane.stdin is not None and lane.stdout is not None
        try:
            assert lane.stdout.readline().strip() == "paying"
            with open_journal(server.dsn("shop")) as journal:
                end = time.monotonic() + 20
                while time.monotonic() < end:
                    record = journal.order("inflight")
                    if record is not None and record.status is PaymentStatus.PROCESSING:
                        break
                    time.sleep(0.02)
                assert record is not None and record.status is PaymentStatus.PROCESSING
                ip("link", "set", host_link, "down")  # the partition: the shopper is typing the password
                lane.stdin.write("cut\n")
                lane.stdin.flush()
                during = json.loads(lane.stdout.readline())["during"]
                assert during.startswith(f"PostgreSQL at {host_ip}:{server.port} is unreachable"), during
                ip("link", "set", host_link, "up")
                lane.stdin.write("restored\n")
                lane.stdin.flush()
                inflight = json.loads(lane.stdout.readline())["inflight"]
                assert inflight == {"status": "SUCCESS"}, inflight
                after = json.loads(lane.stdout.readline())["after"]
                assert after == "SUCCESS"
                record = journal.order("inflight")
                assert record is not None and record.status is PaymentStatus.SUCCESS and not record.unresolved
                assert journal.order("during") is None  # refused before anything was recorded or sent
        finally:
            try:
                _, err = lane.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                lane.kill()
                _, err = lane.communicate(timeout=30)
        assert lane.returncode == 0, err[-3000:]
